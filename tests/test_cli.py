"""The CLI end to end, in-process: exit codes, one-line errors, files written."""

from __future__ import annotations

import csv
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imbalance_lab.cli import main
from tests.conftest import kill_after_first_checkpoint, make_image_folder


def run_cli(args, capsys) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_reproduce_article_end_to_end_on_a_tiny_folder(tiny_folder, tmp_path, capsys):
    out = tmp_path / "article"
    code, stdout, err = run_cli(
        [
            "reproduce",
            "article",
            "--data",
            tiny_folder,
            "--out",
            out,
            "--epochs",
            "2",
            "--both",
            "--workers",
            "2",
            "--quiet",
        ],
        capsys,
    )
    assert code == 0, err
    for mode in ("faithful", "corrected"):
        for run in ("mock", "cnn-4to1", "weights-0-1", "weights-0.15-0.85", "balanced"):
            assert (out / mode / run / "seed-0" / "result.json").exists()
        assert (out / "plots" / f"{mode}-validation-metrics.png").stat().st_size > 1000
        assert (out / "plots" / f"{mode}-training-loss.png").stat().st_size > 1000
    summary = (out / "summary.md").read_text()
    assert "Faithful vs corrected" in summary and "| corrected | ConvNet on 4:1 data |" in summary
    rows = list(csv.DictReader(io.StringIO((out / "summary.csv").read_text())))
    assert len(rows) == 10
    mock = next(r for r in rows if r["run"] == "mock" and r["mode"] == "corrected")
    assert (
        float(mock["train acc"]) == 0.8 and float(mock["val acc"]) == 0.5
    )  # 40:10 train, 10:10 val
    # Rerunning skips every finished run.
    code, _, err = run_cli(
        ["reproduce", "article", "--data", tiny_folder, "--out", out, "--epochs", "2", "--both"],
        capsys,
    )
    assert code == 0 and err.count("finished earlier, skipped") == 10


def test_train_from_toml_with_flag_override_then_predict(tiny_folder, tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text(
        f'data = "{tiny_folder}"\nclasses = ["cat", "dog"]\nratio = "4"\nepochs = 5\nclass_weights = [0.2, 0.8]\n'
    )
    out = tmp_path / "run"
    code, stdout, err = run_cli(
        ["train", "--config", config, "--epochs", "2", "--out", out, "--quiet"], capsys
    )
    assert code == 0, err
    saved = json.loads((out / "result.json").read_text())
    assert saved["config"]["epochs"] == 2 and saved["config"]["class_weights"] == [0.2, 0.8]
    assert saved["data"]["train"] == {"cat": 40, "dog": 10}
    code, stdout, err = run_cli(
        ["predict", out / "model.pt", tiny_folder / "test", "--positive", "dog"], capsys
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert len(rows) == 20
    assert {r["decision"] for r in rows} <= {"admit", "reject"}
    assert all((r["predicted"] == "dog") == (r["decision"] == "reject") for r in rows)
    # The CSV's predictions give the saved validation metrics (val = the test split here).
    correct = sum(Path(r["file"]).parent.name == r["predicted"] for r in rows)
    assert correct / 20 == pytest.approx(saved["final"]["val"]["accuracy"])


def test_help_of_every_command_shows_an_example(capsys):
    for args in (
        ["--help"],
        ["reproduce", "article", "--help"],
        ["train", "--help"],
        ["predict", "--help"],
        ["models", "--help"],
    ):
        code, stdout, _ = run_cli(args, capsys)
        assert code == 0 and "Example" in stdout


# --- bad input: one line, exit code 2, no traceback, nothing written ------------------------


def _bad_folders(root: Path) -> dict[str, Path]:
    made = {}
    made["empty_class"] = make_image_folder(
        root / "empty_class", {"train": {"cat": 3, "dog": 3}, "test": {"cat": 2, "dog": 2}}
    )
    for f in (made["empty_class"] / "train" / "dog").iterdir():
        f.unlink()
    made["empty_split"] = root / "empty_split"
    (made["empty_split"] / "train").mkdir(parents=True)
    (made["empty_split"] / "test").mkdir(parents=True)
    made["mixed_sizes"] = make_image_folder(
        root / "mixed_sizes", {"train": {"cat": 3, "dog": 3}, "test": {"cat": 2, "dog": 2}}
    )
    Image.new("RGB", (40, 30)).save(made["mixed_sizes"] / "train" / "dog" / "0001.png")
    made["corrupt"] = make_image_folder(
        root / "corrupt", {"train": {"cat": 3, "dog": 3}, "test": {"cat": 2, "dog": 2}}
    )
    data = (made["corrupt"] / "train" / "dog" / "0002.png").read_bytes()
    (made["corrupt"] / "train" / "dog" / "0002.png").write_bytes(data[: len(data) // 3])
    return made


BAD_INPUT = [
    # (name, args after 'train' (FOLDER/OUT/MODEL substituted), message fragment)
    ("missing data folder", ["--data", "{ROOT}/nope"], "data folder not found"),
    ("empty class folder", ["--data", "{empty_class}", "--classes", "cat,dog"], "holds no images"),
    ("empty split folder", ["--data", "{empty_split}"], "holds no class folders"),
    (
        "unknown class",
        ["--data", "{tiny}", "--classes", "cat,dgo"],
        "not in the data (did you mean 'dog'?); available: cat, dog",
    ),
    ("class twice", ["--data", "{tiny}", "--classes", "cat,cat"], "given twice"),
    ("ratio zero", ["--data", "{tiny}", "--classes", "cat,dog", "--ratio", "0"], "finite and > 0"),
    (
        "ratio negative",
        ["--data", "{tiny}", "--classes", "cat,dog", "--ratio", "-2"],
        "finite and > 0",
    ),
    (
        "counts zero",
        ["--data", "{tiny}", "--classes", "cat,dog", "--counts", "0,10"],
        "finite and > 0",
    ),
    (
        "counts too large",
        ["--data", "{tiny}", "--classes", "cat,dog", "--counts", "400,10"],
        "needs 400 'cat' training images, but only 40 exist",
    ),
    (
        "negative weight",
        ["--data", "{tiny}", "--classes", "cat,dog", "--class-weights", "-1,2"],
        ">= 0",
    ),
    (
        "nan weight",
        ["--data", "{tiny}", "--classes", "cat,dog", "--class-weights", "nan,1"],
        "finite",
    ),
    (
        "inf weight",
        ["--data", "{tiny}", "--classes", "cat,dog", "--class-weights", "1,inf"],
        "finite",
    ),
    (
        "weights wrong length",
        ["--data", "{tiny}", "--classes", "cat,dog", "--class-weights", "0.2,0.3,0.5"],
        "one weight per class (2",
    ),
    (
        "weights all zero",
        ["--data", "{tiny}", "--classes", "cat,dog", "--class-weights", "0,0"],
        "cannot all be zero",
    ),
    ("mixed sizes", ["--data", "{mixed_sizes}", "--classes", "cat,dog"], "mixed image sizes"),
    ("corrupt image", ["--data", "{corrupt}", "--classes", "cat,dog"], "cannot decode image"),
    ("unknown config key", ["--config", "{ROOT}/typo.toml"], "unknown key 'epoch' in"),
    ("bad epochs", ["--data", "{tiny}", "--epochs", "0"], "--epochs must be >= 1"),
    (
        "unknown model",
        ["--data", "{tiny}", "--model", "resnet"],
        "--model 'resnet' is neither a registered model",
    ),
    (
        "objective unparsable",
        ["--data", "{tiny}", "--val", "0.2", "--objective", "recall>0.9"],
        "cannot parse objective",
    ),
    (
        "objective out of range",
        ["--data", "{tiny}", "--val", "0.2", "--objective", "recall>=1.5"],
        "bound must be in (0, 1]",
    ),
    (
        "output not writable",
        ["--data", "{tiny}", "--classes", "cat,dog", "--out", "{ROOT}/a-file/run"],
        "not writable",
    ),
]


@pytest.mark.parametrize(("name", "args", "message"), BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_gets_one_line_and_exit_code_2(
    name, args, message, tiny_folder, tmp_path, capsys
):
    folders = {**_bad_folders(tmp_path), "tiny": tiny_folder, "ROOT": tmp_path}
    (tmp_path / "typo.toml").write_text(f'data = "{tiny_folder}"\nepoch = 3\n')
    (tmp_path / "a-file").write_text("not a folder")
    args = [a.format(**folders) for a in args]
    out_given = "--out" in args
    if not out_given:
        args += ["--out", str(tmp_path / "out")]
    code, stdout, err = run_cli(
        ["train", "--epochs", "1", *args] if "--epochs" not in args else ["train", *args], capsys
    )
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert message in lines[0]
    assert not (tmp_path / "out").exists(), "a failed run left files behind"
    if name == "unknown config key":
        assert "did you mean 'epochs'?" in lines[0]


def test_skip_bad_images_skips_and_counts(tmp_path, capsys):
    root = _bad_folders(tmp_path)["corrupt"]
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    code, _, err = run_cli(
        [
            "train",
            "--data",
            root,
            "--classes",
            "cat,dog",
            "--epochs",
            "1",
            "--skip-bad-images",
            "--out",
            tmp_path / "o",
        ],
        capsys,
    )
    assert code == 0, err
    assert "skipped 1 unreadable images" in err and "ignored 1 files that are not images" in err
    assert json.loads((tmp_path / "o" / "result.json").read_text())["data"]["train"] == {
        "cat": 3,
        "dog": 2,
    }


def test_mixed_modes_are_converted_and_reported_once(tmp_path, capsys):
    root = make_image_folder(
        tmp_path / "modes", {"train": {"cat": 4, "dog": 4}, "test": {"cat": 2, "dog": 2}}
    )
    Image.new("L", (32, 32), 128).save(root / "train" / "cat" / "0000.png")
    Image.new("RGBA", (32, 32)).save(root / "train" / "dog" / "0000.png")
    Image.new("P", (32, 32)).save(root / "train" / "dog" / "0001.png")
    code, _, err = run_cli(
        ["train", "--data", root, "--classes", "cat,dog", "--epochs", "1", "--out", tmp_path / "o"],
        capsys,
    )
    assert code == 0, err
    notes = [line for line in err.splitlines() if "converted" in line]
    assert len(notes) == 1 and "RGBA" in notes[0] and "P" in notes[0]


def test_resized_mixed_sizes_train(tmp_path, capsys):
    root = _bad_folders(tmp_path)["mixed_sizes"]
    code, _, err = run_cli(
        [
            "train",
            "--data",
            root,
            "--classes",
            "cat,dog",
            "--epochs",
            "1",
            "--image-size",
            "32",
            "--out",
            tmp_path / "o",
        ],
        capsys,
    )
    assert code == 0, err


def test_results_folder_of_another_run_is_refused_without_force(tiny_folder, tmp_path, capsys):
    out = tmp_path / "run"
    base = [
        "train",
        "--data",
        tiny_folder,
        "--classes",
        "cat,dog",
        "--epochs",
        "1",
        "--out",
        out,
        "--quiet",
    ]
    assert run_cli(base, capsys)[0] == 0
    before = (out / "result.json").read_bytes()
    # Execution details (threads, compile) do not make another run: the finished one is shown.
    assert run_cli([*base, "--threads", "1", "--compile"], capsys)[0] == 0
    assert (out / "result.json").read_bytes() == before
    code, _, err = run_cli([*base, "--lr", "0.01"], capsys)
    assert code == 2 and "holds another run (lr was 0.001, now 0.01)" in err and "--force" in err
    assert (out / "result.json").read_bytes() == before
    assert run_cli([*base, "--lr", "0.01", "--force"], capsys)[0] == 0
    assert json.loads((out / "result.json").read_text())["config"]["lr"] == 0.01


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, (f"touch {_Payload.marker}",))


@pytest.mark.parametrize(
    "case", ["missing", "truncated", "not ours", "pickle payload", "torch file with payload"]
)
def test_model_files_are_loaded_safely(case, tiny_folder, tmp_path, capsys):
    model = tmp_path / "model.pt"
    if case == "truncated":
        run_cli(
            [
                "train",
                "--data",
                tiny_folder,
                "--classes",
                "cat,dog",
                "--epochs",
                "1",
                "--out",
                tmp_path / "r",
                "--quiet",
            ],
            capsys,
        )
        data = (tmp_path / "r" / "model.pt").read_bytes()
        model.write_bytes(data[: len(data) // 2])
    elif case == "not ours":
        import torch

        torch.save({"weights": torch.zeros(3)}, model)
    elif case == "pickle payload":
        _Payload.marker = tmp_path / "pwned"
        with open(model, "wb") as f:
            pickle.dump({"format": "imbalance-lab-model", "x": _Payload()}, f)
    elif case == "torch file with payload":
        import torch

        _Payload.marker = tmp_path / "pwned"
        torch.save({"format": "imbalance-lab-model", "version": 1, "meta": _Payload()}, model)
    code, _, err = run_cli(["predict", model, tiny_folder / "test"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    expected = {
        "missing": "not found",
        "truncated": "truncated or damaged",
        "not ours": "not an imbalance-lab model file",
        "pickle payload": "refused",
        "torch file with payload": "refused",
    }[case]
    assert expected in err
    assert not (tmp_path / "pwned").exists(), "the pickle payload ran"


@pytest.mark.parametrize("tta", ["none", "flip-shift"])
def test_objective_threshold_is_saved_and_predict_reproduces_the_test_metrics(
    tiny_folder, tmp_path, capsys, tta
):
    out = tmp_path / "run"
    args = ["train", "--data", tiny_folder, "--classes", "cat,dog", "--ratio", "4", "--epochs", "2",
            "--val", "0.2", "--objective", "recall>=0.9", "--weight-scheme", "balanced",
            "--tta", tta, "--out", out, "--quiet"]  # fmt: skip
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err
    final = json.loads((out / "result.json").read_text())["final"]
    test_cm = final["test"]["confusion_matrix"]  # the default point, also from the TTA views
    assert "threshold" in stdout or "cannot be met" in stdout
    assert final["operating_point"]["kind"] == "threshold"
    code, stdout, err = run_cli(["predict", out / "model.pt", tiny_folder / "test"], capsys)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(stdout)))
    truth = [Path(r["file"]).parent.name for r in rows]
    tp = sum(t == "dog" and r["predicted"] == "dog" for t, r in zip(truth, rows, strict=True))
    assert tp / truth.count("dog") == pytest.approx(final["test_at_point"]["recall"])
    cm = final["test_at_point"]["confusion_matrix"]
    assert sum(r["predicted"] == "dog" for r in rows) == cm[0][1] + cm[1][1]
    scores = np.array([[float(r["p_cat"]), float(r["p_dog"])] for r in rows])
    assert (scores.argmax(1) == 1).sum() == test_cm[0][1] + test_cm[1][1]


def test_objective_without_a_calibration_split_is_refused(tiny_folder, tmp_path, capsys):
    code, _, err = run_cli(
        ["train", "--data", tiny_folder, "--objective", "recall>=0.9", "--out", tmp_path / "o"],
        capsys,
    )
    assert code == 2 and "needs calibration data" in err and not (tmp_path / "o").exists()


def test_resume_flag_needs_a_run_to_continue(tiny_folder, tmp_path, capsys):
    args = [
        "train",
        "--data",
        tiny_folder,
        "--classes",
        "cat,dog",
        "--epochs",
        "1",
        "--out",
        tmp_path / "r",
        "--quiet",
    ]
    code, _, err = run_cli([*args, "--resume"], capsys)
    assert code == 2 and "holds no run to continue" in err
    assert run_cli(args, capsys)[0] == 0
    assert run_cli([*args, "--resume"], capsys)[0] == 0


@pytest.mark.parametrize("command", ["predict", "export"])
def test_a_model_file_naming_code_is_refused_with_exit_2_and_nothing_runs(
    command, tiny_folder, tmp_path, monkeypatch, capsys
):
    import sys

    import torch

    from imbalance_lab.io import torch_bytes
    from imbalance_lab.models import create_model
    from imbalance_lab.models.saved import model_meta, save_model
    from tests.models.user_models import MARKER, install

    install(tmp_path, monkeypatch, "marker_mod", MARKER)
    model = create_model("article-convnet", num_classes=2)
    save_model(tmp_path / "ok.pt", model, model_meta(model, classes=("cat", "dog"), image_shape=(3, 32, 32)))  # fmt: skip
    for name in ("os:system", "marker_mod:make"):
        obj = torch.load(tmp_path / "ok.pt", weights_only=True)
        obj["meta"].update(model=name, model_source="factory")
        (tmp_path / "evil.pt").write_bytes(torch_bytes(obj))
        args = [command, tmp_path / "evil.pt"] + (
            [tiny_folder / "test"] if command == "predict" else []
        )
        code, out, err = run_cli(args, capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1
        assert f"built by the factory '{name}'" in err and "--trust-factory" in err
    assert "marker_mod" not in sys.modules and not (tmp_path / "IMPORTED").exists()
    assert not (tmp_path / "evil.onnx").exists()


@pytest.mark.slow
def test_resnet18_from_a_weights_file_on_mixed_size_photos_then_predict_report_export(
    tmp_path, capsys
):
    # Issue 15's first acceptance point, end to end. The weights file is one a test can make:
    # torchvision's resnet18 with its ImageNet head, saved as a plain state dict.
    import onnxruntime as ort
    import torch
    import torchvision

    from tests.conftest import make_photo_folder

    photos = make_photo_folder(
        tmp_path / "photos", {"train": {"cat": 24, "dog": 8}, "test": {"cat": 6, "dog": 6}},
        low=50, high=140,
    )  # fmt: skip
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "weights.pth")
    run = tmp_path / "run"
    args = ["train", "--data", photos, "--classes", "cat,dog", "--model", "resnet18",
            "--pretrained", tmp_path / "weights.pth", "--image-size", "64", "--epochs", "1",
            "--batch-size", "8", "--threads", "1", "--out", run, "--quiet"]  # fmt: skip
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    cfg = json.loads((run / "config.json").read_text())
    assert (cfg["model"], cfg["image_size"], cfg["pretrained"]) == (
        "resnet18", 64, str(tmp_path / "weights.pth")
    )  # fmt: skip

    code, out, err = run_cli(["predict", run / "model.pt", photos / "test", "--quiet"], capsys)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 12 and {r["predicted"] for r in rows} <= {"cat", "dog"}

    assert run_cli(["report", run], capsys)[0] == 0
    assert (run / "report.html").stat().st_size > 10_000

    code, _, err = run_cli(["export", run / "model.pt", "--format", "onnx"], capsys)
    assert code == 0, err
    session = ort.InferenceSession(str(run / "model.onnx"))
    image = np.asarray(Image.open(sorted((photos / "test" / "dog").iterdir())[0]).convert("RGB"))
    batch = np.ascontiguousarray(
        np.asarray(Image.fromarray(image).resize((64, 64)), dtype=np.uint8).transpose(2, 0, 1)[None]
    )
    probs = session.run(None, {"images": batch})[0]
    assert probs.shape == (1, 2) and abs(float(probs.sum()) - 1) < 1e-5


@pytest.mark.slow
def test_a_factory_model_trains_resumes_after_a_kill_predicts_and_exports(tmp_path):
    # Issue 15's second acceptance point, through the real command in subprocesses.
    import os
    import subprocess
    import sys

    from tests.models.user_models import NETS

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "user_factory_nets.py").write_text(NETS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "mine"), os.getcwd()]),
           "PYTHONUNBUFFERED": "1"}  # fmt: skip
    data = make_image_folder(
        tmp_path / "data", {"train": {"cat": 320, "dog": 80}, "test": {"cat": 20, "dog": 20}}
    )
    run = tmp_path / "run"
    cli = [sys.executable, "-m", "imbalance_lab"]
    train = [*cli, "train", "--data", str(data), "--classes", "cat,dog", "--model",
             "user_factory_nets:small_net", "--epochs", "6", "--batch-size", "4", "--threads", "1",
             "--out", str(run), "--quiet"]  # fmt: skip
    done_epoch = kill_after_first_checkpoint(train, run, env)
    assert 1 <= done_epoch < 6
    done = subprocess.run(train[:-1], env=env, capture_output=True, text=True)  # not --quiet
    assert done.returncode == 0, done.stderr
    # The bar starts at the checkpoint: 100 batches (400 images, batch 4) per epoch done.
    assert f"{100 * done_epoch}/600 [" in done.stderr
    assert len(json.loads((run / "log.json").read_text())["epoch_seconds"]) == 6

    spec = ["--model", "user_factory_nets:small_net"]
    pred = subprocess.run([*cli, "predict", str(run / "model.pt"), str(data / "test"), *spec,
                           "--quiet"], env=env, capture_output=True, text=True)  # fmt: skip
    assert pred.returncode == 0, pred.stderr
    assert len(pred.stdout.strip().splitlines()) == 41  # header + 40 images
    exp = subprocess.run([*cli, "export", str(run / "model.pt"), "--format", "onnx", *spec],
                         env=env, capture_output=True, text=True)  # fmt: skip
    assert exp.returncode == 0, exp.stderr
    assert (run / "model.onnx").stat().st_size > 1000
