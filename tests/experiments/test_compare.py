import csv
import io
import json

import pytest

from imbalance_lab.config import resolve_config
from imbalance_lab.errors import ConfigError
from imbalance_lab.experiments.compare import DEFAULTS, plan_compare
from imbalance_lab.experiments.presets import ARTICLE_STRATEGIES, PRESETS, preset_values
from imbalance_lab.strategies.registry import parse_strategies
from tests.test_cli import run_cli


@pytest.mark.slow
def test_compare_ranks_strategies_and_writes_table_plots_and_config(tiny_folder, tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", "--data", tiny_folder, "--classes", "cat,dog", "--ratio", "4", "--objective", "recall>=0.9",
            "--strategies", "baseline,class-weights,upsample", "--seeds", "2", "--epochs", "2", "--out", out, "--quiet"]  # fmt: skip
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err
    for name in ("baseline", "class-weights", "upsample"):
        for seed in (0, 1):
            result = json.loads((out / name / f"seed-{seed}" / "result.json").read_text())
            point = result["final"]["operating_point"]
            assert point["kind"] == "threshold" and point["objective"] == "recall>=0.9"
            assert result["data"]["train"] == {
                "cat": 32,
                "dog": 8,
            }  # 40:10, minus the 0.2 calibration split
            assert result["data"]["val"] == {"cat": 8, "dog": 2}
    rows = list(csv.DictReader(io.StringIO((out / "compare.csv").read_text())))
    assert [int(r["rank"]) for r in rows] == [1, 2, 3]
    calibration = [float(r["calibration_precision"]) for r in rows]
    assert calibration == sorted(calibration, reverse=True)
    assert {
        "test_at_point_recall_mean",
        "test_at_point_recall_ci95_low",
        "test_roc_auc_std",
    } <= set(rows[0])
    for plot in ("pr-curves.png", "confusion-matrices.png", "metrics-per-epoch.png"):
        assert (out / "plots" / plot).stat().st_size > 1000
    assert json.loads((out / "config.json").read_text())["base"]["objective"] == "recall>=0.9"
    ranking = json.loads((out / "compare.json").read_text())
    assert (ranking["objective"], ranking["target_metric"]) == ("recall>=0.9", "precision")
    assert [s["name"] for s in ranking["strategies"]] == [r["strategy"] for r in rows]
    # A score is the objective on the calibration split, mean over seeds: precision where
    # recall >= 0.9 holds, else recall - 2 (a missed bound ranks below every met one).
    for strategy in ranking["strategies"]:
        results = [json.loads((out / run / "result.json").read_text()) for run in strategy["runs"]]
        points = [r["final"]["operating_point"]["calibration"] for r in results]
        scores = [p["precision"] if p["recall"] >= 0.9 else p["recall"] - 2 for p in points]
        assert strategy["score"] == pytest.approx(sum(scores) / 2)
    assert "| 1 |" in (out / "compare.md").read_text()
    # Upsampling happened on the training split only: the calibration split is untouched.
    # Upsampling fed 32 cats + 32 dogs per epoch, all drawn from the 40 training images.
    up = json.loads((out / "upsample" / "seed-0" / "result.json").read_text())["final"]
    assert up["train"]["confusion_matrix"][0][0] + up["train"]["confusion_matrix"][0][1] == 32
    assert sum(up["train"]["confusion_matrix"][1]) == 32
    assert sum(map(sum, up["val"]["confusion_matrix"])) == 10


def resolve_compare(preset: str, flags: dict):
    defaults = {k: v for k, (v, _) in DEFAULTS.items()}
    return resolve_config(
        defaults=defaults, preset=lambda given: preset_values(preset, given), flags=flags
    )


def test_the_article_preset_resolves_to_the_articles_task():
    base = resolve_compare("article", {"data": "somewhere"})
    assert base.classes == ("cat", "dog") and base.ratio == "4" and base.model == "article-convnet"
    assert base.epochs == 10 and str(base.objective) == "recall>=0.9" and base.val == 0.2
    preset = PRESETS.get("article")
    assert preset.seeds == 3
    assert [s.name for s in parse_strategies(preset.strategies)] == list(ARTICLE_STRATEGIES)


def test_the_cifar10_lt_preset_shortens_its_schedule_proportionally():
    full = resolve_compare("cifar10-lt", {"data": "x"})
    assert (full.long_tail, full.model, full.epochs, full.batch_size) == (
        100.0,
        "resnet32",
        200,
        128,
    )
    assert (full.optimizer, full.lr, full.momentum, full.weight_decay) == ("sgd", 0.1, 0.9, 2e-4)
    assert full.warmup_epochs == 5 and full.lr_steps == ((0.8, 0.01), (0.9, 0.0001))
    short = resolve_compare("cifar10-lt", {"data": "x", "epochs": 20})
    assert short.warmup_epochs == 0.5 and short.epochs == 20
    from imbalance_lab.training.schedule import lr_at

    assert lr_at(short, 15, 0, 10) == pytest.approx(0.1)
    assert lr_at(short, 16, 0, 10) == pytest.approx(0.1 * 0.01)  # epoch 160 of 200
    assert lr_at(short, 18, 0, 10) == pytest.approx(0.1 * 0.0001)  # epoch 180 of 200
    assert lr_at(short, 0, 0, 10) < 0.1  # warming up


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("baselin", "did you mean 'baseline'"),
        ("focal,focal", "given twice"),
        ("nope", "choose 'all' or from"),
    ],
)
def test_bad_strategy_lists(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_strategies(text)


def test_compare_refuses_the_test_split_for_calibration():
    base = resolve_compare("article", {"data": "x"})
    with pytest.raises(ConfigError, match="calibration data"):
        plan_compare(base.replace(val="test", objective=None), parse_strategies("baseline"), 1)


def test_compare_passes_compile_to_every_run(tiny_folder, tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", "--data", tiny_folder, "--classes", "cat,dog", "--ratio", "4", "--strategies", "baseline",
            "--seeds", "1", "--epochs", "1", "--compile", "--out", out, "--quiet"]  # fmt: skip
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    assert json.loads((out / "baseline" / "seed-0" / "result.json").read_text())["config"][
        "compile"
    ]


@pytest.mark.slow
def test_compare_runs_the_best_recipe_file(tiny_folder, tmp_path, capsys):
    # The README's command, on a tiny folder and 1 epoch: every setting of the recipe file
    # reaches both strategies' runs; the strategies change only the loss.
    out = tmp_path / "cmp"
    args = ["compare", "--config", "examples/best-recipe.toml", "--strategies", "baseline,logit-adjusted",
            "--data", tiny_folder, "--epochs", "1", "--no-compile", "--seeds", "1", "--out", out, "--quiet"]  # fmt: skip
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    configs = {
        s: json.loads((out / s / "seed-0" / "config.json").read_text())
        for s in ("baseline", "logit-adjusted")
    }
    for strategy, cfg in configs.items():
        assert (cfg["model"], cfg["optimizer"], cfg["batch_size"], cfg["ema"], cfg["tta"]) == (
            "resnet20", "sgd", 64, 0.998, "flip-shift"
        ), strategy  # fmt: skip
        assert cfg["val"] == "0.1" or cfg["val"] == 0.1
    assert (configs["baseline"]["loss"], configs["logit-adjusted"]["loss"]) == (
        "weighted-ce",
        "logit-adjusted",
    )
    # A strategy names the loss; the loss's settings are the base config's: the recipe's tau.
    assert configs["logit-adjusted"]["tau"] == 1.5
