"""TensorBoard and MLflow sinks, read back with TensorBoard's own reader and MLflow's client."""

import sys
from pathlib import Path

import numpy as np
import pytest

from imbalance_lab.errors import ConfigError
from imbalance_lab.training.tracking import confusion_table, open_sinks, parse_log_to

CLASSES = ("cat", "dog")
CONFIG = {"model": "resnet18", "lr": 0.001, "classes": ["cat", "dog"], "objective": None}
EPOCHS = [
    {"train": {"loss": 0.9, "accuracy": 0.6, "per_class_recall": [0.7, 0.5],
               "confusion_matrix": [[7, 3], [5, 5]]},
     "val": {"loss": 0.8, "accuracy": 0.65, "balanced_accuracy": 0.6}},
    {"train": {"loss": 0.5, "accuracy": 0.8, "per_class_recall": [0.9, 0.7],
               "confusion_matrix": [[9, 1], [3, 7]]},
     "val": {"loss": 0.6, "accuracy": 0.75, "balanced_accuracy": 0.7}},
]  # fmt: skip
FINAL = {"val": {"balanced_accuracy": 0.7, "confusion_matrix": [[8, 2], [4, 6]]},
         "test": {"balanced_accuracy": 0.68, "confusion_matrix": [[80, 20], [44, 56]]}}  # fmt: skip
RNG = np.random.default_rng(0)
LABELS = np.array([0] * 10 + [1] * 10)
PROBS = np.stack([1 - (p := RNG.random(20)), p], axis=1)


def _run(tmp_path, names, epochs=EPOCHS, first=1, finish=True, **kw):
    model = tmp_path / "run" / "model.pt"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(b"weights")
    with open_sinks(names, tmp_path / "run", classes=CLASSES, config=CONFIG, **kw) as sinks:
        for epoch, metrics in enumerate(epochs, start=first):
            sinks.on_epoch(epoch, metrics, lr=0.1 / epoch)
        if finish:
            sinks.on_finish(FINAL, {"val": (LABELS, PROBS)}, model)


def test_tensorboard_events_hold_scalars_pr_curve_and_confusion_matrix(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    _run(tmp_path, "tensorboard")
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"tensors": 0})
    events.Reload()
    scalars = lambda tag: [(e.step, round(e.value, 6)) for e in events.Scalars(tag)]  # noqa: E731
    assert scalars("train/loss") == [(1, 0.9), (2, 0.5)]
    assert scalars("val/balanced_accuracy") == [(1, 0.6), (2, 0.7)]
    assert scalars("train/per_class_recall/dog") == [(1, 0.5), (2, 0.7)]
    assert scalars("lr") == [(1, 0.1), (2, 0.05)]
    assert scalars("final/test/balanced_accuracy") == [(2, 0.68)]
    tensors = events.Tags()["tensors"]
    assert "pr/val/dog" in tensors
    # The PR curve's first column (threshold 0) counts every image: 10 positives, 10 negatives.
    tp, fp = make_ndarray(events.Tensors("pr/val/dog")[0].tensor_proto)[:2, 0]
    assert (tp, fp) == (10, 10)
    text = (
        events.Tensors("confusion_matrix/test/text_summary")[0].tensor_proto.string_val[0].decode()
    )
    assert "| cat | 80 | 20 |" in text and "| dog | 44 | 56 |" in text


def test_confusion_table_rows_are_true_classes():
    assert confusion_table([[1, 2], [3, 4]], CLASSES).splitlines() == [
        "| true \\ predicted | cat | dog |", "|---|---|---|", "| cat | 1 | 2 |", "| dog | 3 | 4 |"
    ]  # fmt: skip


@pytest.mark.slow  # MLflow's import and its SQLite schema: ~10 s
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SQLAlchemy's, inside MLflow
def test_mlflow_run_holds_params_metrics_and_the_model_and_a_resumed_run_continues_it(tmp_path):
    from mlflow.tracking import MlflowClient

    _run(tmp_path, "mlflow", epochs=EPOCHS[:1], finish=False)  # killed after epoch 1
    _run(tmp_path, "mlflow", epochs=EPOCHS[1:], first=2)
    uri = f"sqlite:///{tmp_path / 'run' / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("imbalance-lab")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1  # the second command continued the first run
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.params == {"model": "resnet18", "lr": "0.001", "classes": "cat,dog",
                               "objective": "none"}  # fmt: skip
    history = client.get_metric_history(run.info.run_id, "train/loss")
    assert [(m.step, m.value) for m in history] == [(1, 0.9), (2, 0.5)]
    assert run.data.metrics["final/test/balanced_accuracy"] == 0.68
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["model.pt"]
    local = client.download_artifacts(run.info.run_id, "model.pt", str(tmp_path))
    assert Path(local).read_bytes() == b"weights"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("tensorbord", "--log-to: unknown sink 'tensorbord' (did you mean 'tensorboard'?); choose from tensorboard, mlflow"),
        ("mlflow", "--log-to mlflow needs mlflow, which is not installed: pip install 'imbalance-lab[mlflow]'"),
    ],
)  # fmt: skip
def test_a_sink_that_is_unknown_or_not_installed_is_refused_in_one_line(
    monkeypatch, value, message
):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what Python sees when mlflow is absent
    with pytest.raises(ConfigError) as err:
        parse_log_to(value)
    assert str(err.value) == message


def test_no_sinks_cost_nothing_and_need_no_folder():
    assert parse_log_to("") == () and parse_log_to("tensorboard,tensorboard") == ("tensorboard",)
    with open_sinks((), None, classes=CLASSES, config=CONFIG) as sinks:
        sinks.on_epoch(1, EPOCHS[0], 0.1)
    with pytest.raises(ConfigError, match="--log-to needs an output folder"):
        open_sinks("tensorboard", None, classes=CLASSES, config=CONFIG)
