import errno
import json
import os
import subprocess
import sys

import pytest
import torch

from imbalance_lab.config import RunConfig
from imbalance_lab.data import build_task
from imbalance_lab.errors import ConfigError, OutputError, TrainingDiverged
from imbalance_lab.models import create_model
from imbalance_lab.models.saved import load_saved_model
from imbalance_lab.training import checkpoint as checkpoint_module
from imbalance_lab.training import fit
from tests.conftest import kill_after_first_checkpoint, make_image_folder


def _cfg(root, **kw):
    base = dict(
        data=str(root), classes=("cat", "dog"), ratio="4", epochs=3, batch_size=16, threads=2
    )
    return RunConfig(**{**base, **kw})


def _metrics_only(log):
    return {k: v for k, v in log.items() if k != "epoch_seconds"}


@pytest.mark.slow
def test_same_seed_gives_bit_identical_metrics(tiny_folder):
    cfg = _cfg(tiny_folder, seed=3)
    task = build_task(cfg)
    a = fit(cfg, task, progress=False)
    b = fit(cfg, task, progress=False)
    assert _metrics_only(a.log) == _metrics_only(b.log)  # floats compared exactly
    assert all(
        torch.equal(x, y)
        for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True)
    )
    c = fit(cfg.replace(seed=4), build_task(cfg.replace(seed=4)), progress=False)
    assert _metrics_only(c.log) != _metrics_only(a.log)


def test_log_covers_every_key_of_the_articles_log_dict(tiny_folder):
    cfg = _cfg(tiny_folder, epochs=2)
    log = fit(cfg, build_task(cfg), progress=False).log
    article_keys = [
        "training_loss_per_batch", "validation_loss_per_batch",
        "training_accuracy_per_epoch", "training_recall_per_epoch", "training_precision_per_epoch",
        "validation_accuracy_per_epoch", "validation_recall_per_epoch", "validation_precision_per_epoch",
    ]  # fmt: skip
    for key in article_keys:
        assert key in log
    for split in ("training", "validation"):
        for metric in ("loss", "f1", "balanced_accuracy", "per_class_recall", "confusion_matrix"):
            assert len(log[f"{split}_{metric}_per_epoch"]) == 2
    assert len(log["training_loss_per_batch"]) == 2 * 4  # 50 images, batch 16
    assert sum(map(sum, log["validation_confusion_matrix_per_epoch"][-1])) == 20


def _batchnorm_modes_while_training(cfg, task):
    """BatchNorm's ``training`` flag at every training step, grouped by epoch.

    A forward pre-hook on the first BatchNorm sees each forward; steps that build a graph
    are training steps, evaluations run without one.
    """
    model = create_model(
        cfg.model, num_classes=2, in_channels=3, image_size=32, faithful=cfg.faithful
    )
    norm = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    modes, epoch = {}, [0]

    def record(module, _inputs):
        if torch.is_grad_enabled():
            modes.setdefault(epoch[0], []).append(module.training)

    norm.register_forward_pre_hook(record)
    fit(
        cfg,
        task,
        progress=False,
        model=model,
        on_epoch=lambda *_: epoch.__setitem__(0, epoch[0] + 1),
    )
    return modes


@pytest.mark.parametrize("faithful", [True, False], ids=["faithful", "corrected"])
def test_faithful_mode_trains_with_batchnorm_frozen_from_the_second_epoch(tiny_folder, faithful):
    # The article's accuracy helper calls network.eval() after epoch 1 and nothing calls
    # train() again; the corrected loop trains every epoch in train mode.
    cfg = _cfg(tiny_folder, epochs=2, faithful=faithful)
    modes = _batchnorm_modes_while_training(cfg, build_task(cfg))
    assert modes == {0: [True] * 4, 1: [not faithful] * 4}  # 50 images, batch 16: 4 steps


def test_class_weights_change_the_loss(tiny_folder):
    cfg = _cfg(tiny_folder, epochs=1)
    plain = fit(cfg, build_task(cfg), progress=False).log["training_loss_per_batch"]
    weighted_cfg = cfg.replace(class_weights=(0.0, 1.0))
    weighted = fit(weighted_cfg, build_task(weighted_cfg), progress=False)
    assert weighted.log["training_loss_per_batch"] != plain
    # Weight 0 on cats: the model learns to call everything a dog.
    assert weighted.final["train"]["per_class_recall"][1] >= 0.5


@pytest.mark.slow
def test_compiled_step_trains_like_the_eager_one_and_compiles_once(tiny_folder):
    import torch._dynamo
    from torch._dynamo.utils import counters

    # 50 training images, batch 16: 3 full batches and 1 of 2. In fp32: under bf16 autocast
    # (the default on AMX CPUs) the two differ by bf16 rounding, not by compilation.
    cfg = _cfg(tiny_folder, epochs=2, bf16=False)
    eager = fit(cfg, build_task(cfg), progress=False)
    torch._dynamo.reset()
    counters.clear()
    compiled = fit(cfg.replace(compile=True), build_task(cfg), progress=False)
    # One graph for the full training batches; the short last batch and the evaluations
    # run the eager module, so there is no recompilation.
    assert counters["stats"]["unique_graphs"] == 1
    assert not counters["recompiles"]
    # Fused kernels round differently, so the two runs agree to float noise, not bit for bit.
    assert compiled.log["training_loss_per_batch"] == pytest.approx(
        eager.log["training_loss_per_batch"], rel=3e-2
    )
    for a, b in zip(
        compiled.model.state_dict().values(), eager.model.state_dict().values(), strict=True
    ):
        assert torch.allclose(a.float(), b.float(), rtol=0, atol=1e-2)


@pytest.mark.slow
def test_a_failed_compile_warns_once_and_trains_eagerly(tiny_folder, tmp_path, monkeypatch):
    import torch._dynamo
    import torch._inductor.config as inductor_config

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))  # nothing cached
    monkeypatch.setattr(inductor_config, "fx_graph_cache", False)
    monkeypatch.setattr(inductor_config.cpp, "cxx", (str(tmp_path / "no-such-c++"),))
    torch._dynamo.reset()
    cfg = _cfg(tiny_folder, epochs=2)
    messages = []
    result = fit(cfg.replace(compile=True), build_task(cfg), progress=False, warn=messages.append)
    torch._dynamo.reset()
    assert len(messages) == 1 and "torch.compile failed" in messages[0]  # once, not per batch
    eager = fit(cfg, build_task(cfg), progress=False)
    assert _metrics_only(result.log) == _metrics_only(eager.log)


def _float_tensors(model):
    return {k: v for k, v in model.state_dict().items() if v.is_floating_point()}


@pytest.mark.slow
def test_ema_scores_and_saves_the_moving_average_of_the_weights(tiny_folder, tmp_path):
    cfg = _cfg(tiny_folder, epochs=2)
    plain = fit(cfg, build_task(cfg), progress=False)
    # A decay near 0 keeps only the newest weights: the model scored is the trained one.
    newest = fit(cfg.replace(ema=1e-9), build_task(cfg), progress=False)
    for name, value in _float_tensors(plain.model).items():
        assert torch.allclose(_float_tensors(newest.model)[name], value, rtol=0, atol=1e-6), name
    assert newest.final["val"]["accuracy"] == plain.final["val"]["accuracy"]
    # A slow average stays near the first steps' weights, batch-norm statistics included,
    # while training itself is untouched; the model file holds the average.
    slow = fit(cfg.replace(ema=0.99), build_task(cfg), out_dir=tmp_path / "run", progress=False)
    assert slow.log["training_loss_per_batch"] == plain.log["training_loss_per_batch"]
    averaged, trained = _float_tensors(slow.model), _float_tensors(plain.model)
    assert all(not torch.allclose(averaged[k], trained[k]) for k in trained)
    saved, _ = load_saved_model(tmp_path / "run" / "model.pt")
    for name, value in _float_tensors(saved).items():
        assert torch.equal(value, averaged[name]), name


class _Stop(Exception):
    pass


@pytest.mark.slow
def test_a_resumed_run_continues_the_weight_average(tiny_folder, tmp_path):
    cfg = _cfg(tiny_folder, epochs=3, ema=0.9)
    whole = fit(cfg, build_task(cfg), progress=False)

    def stop_after_first(epoch, metrics):
        if epoch == 0:
            raise _Stop

    with pytest.raises(_Stop):
        fit(cfg, build_task(cfg), out_dir=tmp_path, progress=False, on_epoch=stop_after_first)
    resumed = fit(cfg, build_task(cfg), out_dir=tmp_path, progress=False)
    assert resumed.resumed_from == 1
    assert _metrics_only(resumed.log) == _metrics_only(whole.log)
    for name, value in _float_tensors(whole.model).items():
        assert torch.equal(_float_tensors(resumed.model)[name], value), name


def test_nan_loss_stops_with_epoch_batch_and_advice(tiny_folder, tmp_path):
    cfg = _cfg(tiny_folder, lr=1e30, epochs=3)
    with pytest.raises(TrainingDiverged, match=r"at epoch \d+, batch \d+.*lower learning rate"):
        fit(cfg, build_task(cfg), out_dir=tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "result.json").exists()


def test_full_disk_leaves_the_previous_checkpoint_intact(tiny_folder, tmp_path, monkeypatch):
    import imbalance_lab.io as io_module

    cfg = _cfg(tiny_folder, epochs=3)
    out = tmp_path / "run"
    real_write = io_module._write_synced
    writes = {"checkpoints": 0}

    def disk_fills_at_second_checkpoint(f, data, path):
        if path.name == ".checkpoint.next":
            writes["checkpoints"] += 1
            if writes["checkpoints"] == 2:
                real_write(f, data[:100], path)  # part of it lands, then the disk is full
                raise OSError(errno.ENOSPC, "No space left on device")
        real_write(f, data, path)

    monkeypatch.setattr(io_module, "_write_synced", disk_fills_at_second_checkpoint)
    with pytest.raises(OutputError, match="disk is full.*previous version is left intact"):
        fit(cfg, build_task(cfg), out_dir=out, progress=False)
    state = checkpoint_module.load_checkpoint(out)
    assert state is not None and state["epoch"] == 1
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    resumed = fit(cfg, build_task(cfg), out_dir=out, progress=False)  # and it resumes from epoch 1
    assert resumed.resumed_from == 1


def test_truncated_checkpoint_falls_back_to_the_previous_one(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    checkpoint_module.save_checkpoint(out, {"epoch": 1, "tag": "a"})
    checkpoint_module.save_checkpoint(out, {"epoch": 2, "tag": "b"})
    data = (out / "checkpoint.pt").read_bytes()
    (out / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    messages = []
    state = checkpoint_module.load_checkpoint(out, warn=messages.append)
    assert state["tag"] == "a" and state["epoch"] == 1
    assert any("truncated or damaged" in m for m in messages)
    assert any("resuming from checkpoint.prev.pt (epoch 1)" in m for m in messages)


def _train_cmd(root, out):
    return [
        sys.executable, "-m", "imbalance_lab", "train", "--data", str(root), "--classes", "cat,dog",
        "--ratio", "4", "--epochs", "4", "--batch-size", "8", "--seed", "5", "--threads", "1",
        "--out", str(out), "--quiet",
    ]  # fmt: skip


@pytest.mark.slow
def test_sigkill_mid_epoch_then_rerun_ends_with_the_uninterrupted_metrics(tmp_path):
    root = make_image_folder(
        tmp_path / "data", {"train": {"cat": 320, "dog": 80}, "test": {"cat": 40, "dog": 40}}
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    straight = tmp_path / "straight"
    subprocess.run(_train_cmd(root, straight), check=True, env=env, capture_output=True)

    killed = tmp_path / "killed"
    done_epoch = kill_after_first_checkpoint(_train_cmd(root, killed), killed, env)
    assert 1 <= done_epoch < 4

    subprocess.run(_train_cmd(root, killed), check=True, env=env, capture_output=True)
    a = json.loads((straight / "log.json").read_text())
    b = json.loads((killed / "log.json").read_text())
    assert _metrics_only(a) == _metrics_only(b)
    assert (
        json.loads((straight / "result.json").read_text())["final"]
        == json.loads((killed / "result.json").read_text())["final"]
    )


def test_without_validation_every_training_image_trains_and_test_is_scored_once(tiny_folder):
    cfg = _cfg(tiny_folder, epochs=2, val="none")
    task = build_task(cfg)
    assert task.val is None and len(task.train) == 50  # 40 cats + 10 dogs, nothing held out
    result = fit(cfg, task, progress=False)
    assert set(result.final) == {"train", "test"}
    assert not any(k.startswith("validation_") and v for k, v in result.log.items())
    assert sum(map(sum, result.final["test"]["confusion_matrix"])) == 20


def test_an_objective_needs_a_calibration_split_not_none():
    with pytest.raises(ConfigError, match="needs calibration data"):
        RunConfig(val="none", objective="max-f1")
