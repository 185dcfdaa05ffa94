"""``benchmark cifar10-lt``: the published protocol, one run per method and seed, its page."""

from __future__ import annotations

import json

import pytest

from imbalance_lab.config import resolve_config
from imbalance_lab.errors import ConfigError
from imbalance_lab.experiments.benchmark import parse_methods, plan_benchmark, protocol
from tests.conftest import make_image_folder
from tests.test_cli import run_cli

CLASSES = [f"c{i}" for i in range(10)]


@pytest.fixture(scope="module")
def ten_classes(tmp_path_factory):
    root = tmp_path_factory.mktemp("ten")
    return make_image_folder(root, {"train": dict.fromkeys(CLASSES, 30), "test": dict.fromkeys(CLASSES, 4)})  # fmt: skip


def test_the_protocol_is_the_published_one_and_scales_with_the_epochs():
    full = resolve_config(preset=protocol, flags={"data": "x"})
    assert (full.model, full.epochs, full.batch_size, full.lr, full.momentum) == ("resnet32", 200, 128, 0.1, 0.9)  # fmt: skip
    assert (full.weight_decay, full.warmup_epochs, full.pad_mode, full.val) == (2e-4, 5.0, "zeros", "none")  # fmt: skip
    assert full.lr_steps == ((0.8, 0.01), (0.9, 0.0001)) and full.long_tail == 100
    short = resolve_config(preset=protocol, flags={"data": "x", "epochs": 20})
    assert short.warmup_epochs == 0.5 and short.lr_steps == full.lr_steps
    runs = plan_benchmark(full, parse_methods("baseline,ldam-drw,focal"), 2)
    assert [r.name for r in runs][:3] == ["rho100-e200/baseline/seed-0", "rho100-e200/baseline/seed-1", "rho100-e200/ldam-drw/seed-0"]  # fmt: skip
    ldam, focal = runs[2].config, runs[4].config
    assert (ldam.loss, ldam.drw_at, focal.gamma) == ("ldam", 0.8, 1.0)
    with pytest.raises(ConfigError, match="every training image"):
        plan_benchmark(full.replace(val=0.1), parse_methods("baseline"), 1)


@pytest.mark.slow
def test_one_epoch_of_two_methods_writes_the_page_and_a_rerun_trains_nothing(
    ten_classes, tmp_path, capsys
):
    out, doc = tmp_path / "bench", tmp_path / "long-tail.md"
    args = ["benchmark", "cifar10-lt", "--data", ten_classes, "--long-tail", "10", "--epochs", "1",
            "--batch-size", "32", "--methods", "baseline,ldam-drw", "--out", out, "--doc", doc,
            "--threads", "1", "--quiet"]  # fmt: skip
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err
    summary = json.loads((out / "benchmark.json").read_text())
    assert [(r["group"], r["method"]) for r in summary["rows"]] == [("rho10-e1", "baseline"), ("rho10-e1", "ldam-drw")]  # fmt: skip
    for row in summary["rows"]:
        assert 0 <= row["top1"][0] <= 100 and row["seeds"] == [0]
        assert row["published"] is None  # a 1-epoch schedule is not the paper's
    result = json.loads((out / "rho10-e1" / "ldam-drw" / "seed-0" / "result.json").read_text())
    assert result["config"]["val"] == "none" and set(result["final"]) == {"train", "test"}
    assert result["data"]["train"]["c0"] == 30 and result["data"]["train"]["c9"] == 3  # factor 10
    page = doc.read_text()
    assert "## Imbalance factor 10, 1 epoch\n" in page and "| ldam-drw |" in page
    # Under each table, the machine its runs finished on (no GPU in CI: the CPU).
    table_end = page.index("\n\n", page.index("| ldam-drw |"))
    assert page[table_end:].lstrip().startswith("Finished on") and "- CPU only: " in page
    code, _, err = run_cli(args[:-1], capsys)  # the same command again: both runs are done
    assert code == 0 and err.count("finished earlier, skipped") == 2
