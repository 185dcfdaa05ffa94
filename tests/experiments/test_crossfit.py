"""--calibration cv:K: K fold models, the point chosen on their out-of-fold scores, and the
deployed model (an ensemble, or a refit) used as one model by predict, export and report."""

import csv
import io
import json
import shutil

import numpy as np
import pytest
import torch

from imbalance_lab.config import RunConfig, resolve_config
from imbalance_lab.data.task import build_task, stratified_folds
from imbalance_lab.errors import ConfigError, DataError
from imbalance_lab.evaluation.objectives import parse_objective
from imbalance_lab.evaluation.thresholds import choose_operating_point
from imbalance_lab.models.saved import load_saved_model
from tests.test_cli import run_cli

TINY = ["--classes", "cat,dog", "--counts", "30,15", "--epochs", "1", "--batch-size", "16",
        "--threads", "1", "--objective", "recall>=0.9", "--quiet"]  # fmt: skip


def test_folds_partition_the_set_and_keep_each_class_share():
    labels = np.array([0] * 40 + [1] * 10)
    folds = stratified_folds(labels, 5, seed=3)
    assert sorted(np.concatenate(folds).tolist()) == list(range(50))
    for held in folds:
        assert np.bincount(labels[held]).tolist() == [8, 2]
    with pytest.raises(DataError, match="cv:5 needs at least 5 training images of every class"):
        stratified_folds(np.array([0] * 40 + [1] * 4), 5, seed=0)


def test_split_is_the_same_calibration_as_val_and_cv_replaces_it():
    by_val = resolve_config(flags={"val": "0.2"})
    by_calibration = resolve_config(flags={"calibration": "split:0.2"})
    assert by_val.to_dict() == by_calibration.to_dict()
    cv = resolve_config(
        defaults={"val": 0.2}, flags={"calibration": "cv:5", "objective": "recall>=0.9"}
    )
    assert (cv.val, cv.calibration, cv.folds) == ("none", "cv:5", 5)
    with pytest.raises(ConfigError, match="drop --val 0.2"):
        resolve_config(flags={"calibration": "cv:5", "val": "0.2", "objective": "recall>=0.9"})
    with pytest.raises(ConfigError, match="give --objective"):
        RunConfig(calibration="cv:5")
    with pytest.raises(ConfigError, match="--fold 3 needs --calibration cv:K with K > 3"):
        RunConfig(calibration="cv:3", fold=3, objective="recall>=0.9")


def test_a_fold_trains_on_the_other_folds_and_validates_on_its_own(tiny_folder):
    cfg = RunConfig(data=str(tiny_folder), classes=("cat", "dog"), counts="30,15",
                    calibration="cv:3", objective="recall>=0.9")  # fmt: skip
    held = []
    for k in range(3):
        task = build_task(cfg.replace(fold=k), progress=False)
        assert task.val.class_counts() == {"cat": 10, "dog": 5}
        assert task.train.class_counts() == {"cat": 20, "dog": 10}
        held.append({tuple(x.flatten()[:16].tolist()) for x in task.val.images})
    assert not (held[0] & held[1]) and not (held[1] & held[2])  # disjoint folds


@pytest.mark.slow
def test_cv_run_chooses_on_out_of_fold_scores_and_deploys_one_model(tiny_folder, tmp_path, capsys):
    run = tmp_path / "cv"
    code, out, err = run_cli(["train", "--data", tiny_folder, *TINY, "--calibration", "cv:3",
                              "--cv-model", "ensemble", "--out", run], capsys)  # fmt: skip
    assert code == 0, err
    result = json.loads((run / "result.json").read_text())
    final = result["final"]
    # Every training image is scored once, by the fold model that did not see it.
    with np.load(run / "scores.npz") as scores:
        oof_labels, oof = scores["val_labels"], scores["val_scores"]
        test = scores["test_scores"]
    assert np.bincount(oof_labels).tolist() == [30, 15]
    folds = [np.load(run / "folds" / f"fold-{k}" / "scores.npz") for k in range(3)]
    assert sorted(np.concatenate([f["val_scores"][:, 1] for f in folds]).tolist()) == sorted(
        oof[:, 1].tolist()
    )
    # The point is the one the chooser gives on those scores; the test split only reports.
    point = choose_operating_point(oof_labels, oof, parse_objective("recall>=0.9"))
    assert final["operating_point"]["value"] == point.value
    assert final["operating_point"]["calibrated_on"] == "cv:3"
    assert final["cross_fitting"] == {**final["cross_fitting"], "folds": 3, "trainings": 3,
                                      "deployed": "ensemble"}  # fmt: skip
    # The deployed model is the ensemble: the mean of the fold models' test probabilities.
    np.testing.assert_allclose(test, np.mean([f["test_scores"] for f in folds], axis=0), atol=1e-6)
    model, meta = load_saved_model(run / "model.pt")
    assert meta["ensemble"] == 3 and meta["threshold"] == point.value
    assert meta["interval"]["count"] == 15
    # predict reads the ensemble as one model and gives the run's test probabilities.
    code, out, err = run_cli(["predict", run / "model.pt", tiny_folder / "test"], capsys)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    p_dog = np.array([float(r["p_dog"]) for r in rows])
    order = np.argsort([r["file"] for r in rows])  # test files: cat/*, then dog/*
    np.testing.assert_allclose(p_dog[order], test[:, 1], atol=1e-5)
    assert "95% CI" in err and "from 15 calibration positives" in err
    # export: the ensemble as one ONNX graph, run by onnxruntime.
    ort = pytest.importorskip("onnxruntime")
    code, out, err = run_cli(["export", run / "model.pt", "--format", "onnx"], capsys)
    assert code == 0, err
    session = ort.InferenceSession(str(run / "model.onnx"))
    exported = json.loads(session.get_modelmeta().custom_metadata_map["imbalance_lab"])
    assert exported["operating_point"]["interval"]["count"] == 15
    images = np.zeros((2, 3, 32, 32), dtype=np.uint8)
    (onnx_probs,) = session.run(None, {session.get_inputs()[0].name: images})
    from imbalance_lab.models.saved import prepare_images

    with torch.no_grad():
        torch_probs = model(prepare_images(torch.from_numpy(images), meta)).softmax(1).numpy()
    np.testing.assert_allclose(onnx_probs, torch_probs, atol=1e-4)
    code, _, err = run_cli(["report", run], capsys)
    assert code == 0, err and (run / "report.html").stat().st_size > 10_000


def test_repeated_folds_are_spelled_cv_k_x_m_and_deploy_only_the_matched_model():
    cfg = RunConfig(calibration="cv:5X3", cv_model="matched", objective="recall>=0.9")
    assert (cfg.calibration, cfg.folds, cfg.repeats) == ("cv:5x3", 5, 3)
    assert RunConfig(calibration="cv:5x1", objective="recall>=0.9").calibration == "cv:5"
    # Unset, the deployed model is the refit for cv:K and the matched ensemble for cv:KxM.
    assert RunConfig(calibration="cv:5", objective="recall>=0.9").cv_model == "refit"
    assert RunConfig(calibration="cv:5x3", objective="recall>=0.9").cv_model == "matched"
    with pytest.raises(ConfigError, match="give --cv-model matched, or cv:5 for --cv-model refit"):
        RunConfig(calibration="cv:5x3", cv_model="refit", objective="recall>=0.9")
    with pytest.raises(ConfigError, match=r"or cv:KxM, the K folds drawn M times, M in 1\.\.10"):
        RunConfig(calibration="cv:5x0", objective="recall>=0.9")
    with pytest.raises(ConfigError, match="--repeat 1 needs --fold"):
        RunConfig(calibration="cv:5x2", cv_model="matched", repeat=1, objective="recall>=0.9")
    with pytest.raises(
        ConfigError, match="--repeat 3 needs --fold and --calibration cv:KxM with M > 3"
    ):
        cfg.replace(fold=0, repeat=3)
    # A later repetition trains afresh (weights, order, fold split); the first is cv:K's.
    assert cfg.replace(fold=0).run_seed == cfg.seed == cfg.replace(fold=0, repeat=0).run_seed
    assert len({cfg.replace(fold=0, repeat=r).run_seed for r in range(3)}) == 3


@pytest.mark.slow
def test_cv_k_x_m_averages_each_images_repeated_scores_and_deploys_their_ensemble(
    tiny_folder, tmp_path, capsys
):
    run = tmp_path / "cv"
    code, _, err = run_cli(["train", "--data", tiny_folder, *TINY, "--calibration", "cv:2x2",
                            "--cv-model", "matched", "--out", run], capsys)  # fmt: skip
    assert code == 0, err
    final = json.loads((run / "result.json").read_text())["final"]
    dirs = [run / "folds" / "fold-0", run / "folds" / "fold-1",
            run / "folds" / "repeat-1" / "fold-0", run / "folds" / "repeat-1" / "fold-1"]  # fmt: skip
    folds = [np.load(d / "scores.npz") for d in dirs]
    # Each image's score, read off the images each fold run held out: two per image.
    cfg = RunConfig(data=str(tiny_folder), classes=("cat", "dog"), counts="30,15", epochs=1,
                    batch_size=16, calibration="cv:2x2", cv_model="matched",
                    objective="recall>=0.9")  # fmt: skip
    by_image: dict[bytes, list[float]] = {}
    for (r, k), f in zip([(0, 0), (0, 1), (1, 0), (1, 1)], folds, strict=True):
        held = build_task(cfg.replace(fold=k, repeat=r), progress=False).val.images
        for image, p in zip(held, f["val_scores"][:, 1], strict=True):
            by_image.setdefault(image.numpy().tobytes(), []).append(float(p))
    assert len(by_image) == 45 and all(len(v) == 2 for v in by_image.values())
    first, second = ({float(p) for p in f["val_scores"][:, 1]} for f in (folds[0], folds[2]))
    assert first != second  # repetition 1 is another split and other trainings
    with np.load(run / "scores.npz") as scores:
        oof_labels, oof, test = scores["val_labels"], scores["val_scores"], scores["test_scores"]
    assert sorted(oof[:, 1].tolist()) == pytest.approx(
        sorted(np.mean(v) for v in by_image.values())
    )
    point = choose_operating_point(oof_labels, oof, parse_objective("recall>=0.9"))
    assert final["operating_point"]["value"] == point.value
    # Deployed: fold 0 of each repetition, averaged as the out-of-fold scores were.
    np.testing.assert_allclose(
        test, (folds[0]["test_scores"] + folds[2]["test_scores"]) / 2, atol=1e-6
    )
    _, meta = load_saved_model(run / "model.pt")
    assert meta["ensemble"] == 2 and meta["threshold"] == point.value
    assert final["cross_fitting"] == {**final["cross_fitting"], "folds": 2, "repeats": 2,
                                      "trainings": 4, "deployed": "matched"}  # fmt: skip


@pytest.mark.slow
def test_a_lost_fold_is_retrained_alone_and_the_run_ends_the_same(tiny_folder, tmp_path, capsys):
    run = tmp_path / "cv"
    args = ["train", "--data", tiny_folder, *TINY, "--calibration", "cv:2", "--out", run]
    assert run_cli(args, capsys)[0] == 0
    first = json.loads((run / "result.json").read_text())["final"]
    assert first["cross_fitting"]["trainings"] == 3 and (run / "refit" / "model.pt").is_file()
    (run / "result.json").unlink()
    shutil.rmtree(run / "folds" / "fold-1")
    code, out, err = run_cli([*args[:-1], run, "--quiet"], capsys)
    assert code == 0, err
    again = json.loads((run / "result.json").read_text())["final"]
    assert again["operating_point"] == first["operating_point"]
    assert again["test_at_point"] == first["test_at_point"]
    _, meta = load_saved_model(run / "model.pt")
    assert "ensemble" not in meta  # the refit model is deployed


@pytest.mark.slow
def test_compare_ranks_strategies_on_out_of_fold_scores(tiny_folder, tmp_path, capsys):
    out = tmp_path / "cmp"
    code, _, err = run_cli(["compare", "--data", tiny_folder, *TINY, "--calibration", "cv:2",
                            "--strategies", "baseline,class-weights", "--seeds", "1",
                            "--out", out], capsys)  # fmt: skip
    assert code == 0, err
    ranking = json.loads((out / "compare.json").read_text())
    for strategy in ranking["strategies"]:
        (run,) = strategy["runs"]
        result = json.loads((out / run / "result.json").read_text())
        assert result["final"]["operating_point"]["calibrated_on"] == "cv:2"
        p = result["final"]["operating_point"]["calibration"]
        assert strategy["score"] == pytest.approx(
            p["precision"] if p["recall"] >= 0.9 else p["recall"] - 2
        )
        assert (out / run / "folds" / "fold-1" / "result.json").is_file()
    assert "(recall, n=15)" in (out / "compare.md").read_text()  # every dog informs each point
