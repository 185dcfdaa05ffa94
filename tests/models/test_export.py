"""Export: ONNX (run by onnxruntime) and TorchScript give predict's probabilities and decisions."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imbalance_lab.errors import ConfigError
from imbalance_lab.models import create_model
from imbalance_lab.models.export import export_metadata, export_model
from imbalance_lab.models.predict import predict_files
from imbalance_lab.models.saved import model_meta, save_model


@pytest.fixture(scope="module")
def test_images(shared_cifar) -> list[Path]:
    """200 real test images: the first 100 cats and 100 dogs."""
    return [p for c in ("cat", "dog") for p in sorted((shared_cifar / "test" / c).iterdir())[:100]]


@pytest.fixture(scope="module")
def trained(shared_cifar, test_images, tmp_path_factory):
    """A ConvNet trained two epochs on 4:1 real cats vs dogs (500 training images, to stay
    quick), its threshold chosen on a calibration split carved from them."""
    from imbalance_lab.config import RunConfig
    from imbalance_lab.data import build_task
    from imbalance_lab.training import fit

    out = tmp_path_factory.mktemp("trained")
    for cls, n in (("cat", 400), ("dog", 100)):
        for split, files in (("train", sorted((shared_cifar / "train" / cls).iterdir())[:n]),
                             ("test", [f for f in test_images if f.parent.name == cls])):  # fmt: skip
            (out / "data" / split / cls).mkdir(parents=True)
            for f in files:
                (out / "data" / split / cls / f.name).symlink_to(f)
    cfg = RunConfig(data=str(out / "data"), classes=("cat", "dog"), epochs=2, val="0.3",
                    objective="recall>=0.9", threads=2, seed=0)  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:  # a module fixture: keep the decode cache in tmp
        mp.setenv("IMBALANCE_LAB_CACHE", str(out / "cache"))
        fit(cfg, build_task(cfg), out_dir=out / "run", progress=False)
    return out / "run" / "model.pt"


def _decode(files) -> np.ndarray:
    # What a service does: decode to uint8 HxWxC, stack as NCHW.
    return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]).transpose(0, 3, 1, 2)


def _decisions(probs: np.ndarray, info: dict) -> list[str]:
    point, classes = info["operating_point"], info["classes"]
    assert point["kind"] == "threshold" and point["positive_class"] == classes[1]
    return [classes[1] if p >= point["value"] else classes[0] for p in probs[:, 1]]


def _check(probs, info, predictions):
    expected = np.array([p.scores for p in predictions])
    np.testing.assert_allclose(probs, expected, atol=1e-4, rtol=0)
    assert _decisions(probs, info) == [p.label for p in predictions]
    assert 0 < sum(p.label == "dog" for p in predictions) < 200  # the threshold splits them


@pytest.mark.slow  # trains one epoch on 1000 images and exports: ~30 s on 2 cores
def test_onnx_in_onnxruntime_gives_predicts_probabilities_and_decisions(
    trained, test_images, tmp_path
):
    import onnxruntime as ort

    path = export_model(trained, tmp_path / "model.onnx", fmt="onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    info = json.loads(session.get_modelmeta().custom_metadata_map["imbalance_lab"])
    assert info["classes"] == ["cat", "dog"] and info["input"]["dtype"] == "uint8"
    probs = session.run(None, {"images": _decode(test_images)})[0]
    predictions, meta, _ = predict_files(trained, test_images)
    assert info["operating_point"]["value"] == meta["threshold"]
    _check(probs, info, predictions)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_gives_predicts_probabilities_and_decisions(trained, test_images, tmp_path):
    path = export_model(trained, fmt="torchscript", out=tmp_path / "model.torchscript.pt")
    files = {"imbalance_lab.json": ""}
    scripted = torch.jit.load(str(path), _extra_files=files)
    info = json.loads(files["imbalance_lab.json"])
    with torch.no_grad():
        probs = scripted(torch.from_numpy(_decode(test_images))).numpy()
    _check(probs, info, predict_files(trained, test_images)[0])


@pytest.mark.slow  # exports a ResNet-18: ~15 s
def test_a_backbone_with_imagenet_normalisation_exports_exactly(tmp_path):
    import onnxruntime as ort

    torch.manual_seed(0)
    model = create_model("resnet18", num_classes=3, image_size=32).eval()
    meta = model_meta(model, classes=("a", "b", "c"), image_shape=(3, 32, 32))
    meta.update(tau=1.0, prior=[0.7, 0.2, 0.1])
    save_model(tmp_path / "model.pt", model, meta)
    path = export_model(tmp_path / "model.pt")
    assert path == tmp_path / "model.onnx"
    x = np.random.default_rng(0).integers(0, 256, (5, 3, 32, 32), dtype=np.uint8)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = model(model.model_spec.input.normalize(torch.from_numpy(x))).softmax(1).numpy()
    np.testing.assert_allclose(session.run(None, {"images": x})[0], expected, atol=1e-5, rtol=0)
    info = json.loads(session.get_modelmeta().custom_metadata_map["imbalance_lab"])
    assert info["operating_point"] == {"kind": "tau", "value": 1.0, "prior": [0.7, 0.2, 0.1],
                                       "rule": "argmax over classes of log p - tau * log prior"}  # fmt: skip


def test_metadata_says_tta_is_not_in_the_graph():
    meta = {"model": "article-convnet", "classes": ["cat", "dog"], "tta": "flip", "threshold": 0.25,
            "input": {"channels": 3, "size": 32, "mean": [0.5] * 3, "std": [0.5] * 3}}  # fmt: skip
    info = export_metadata(meta)
    assert info["tta"].startswith("none in the graph (the model was scored with tta=flip")
    assert info["operating_point"]["rule"] == "dog when p(dog) >= 0.25, else cat"
    del meta["threshold"]
    assert export_metadata(meta)["operating_point"] is None


def test_bad_format_and_missing_file_are_one_line(tmp_path):
    with pytest.raises(
        ConfigError, match="--format must be one of onnx, torchscript; got 'tflite'"
    ):
        export_model(tmp_path / "model.pt", fmt="tflite")
    from imbalance_lab.errors import ModelFileError

    with pytest.raises(ModelFileError, match="model file not found"):
        export_model(tmp_path / "model.pt", fmt="torchscript")
    assert not os.listdir(tmp_path)  # nothing half-written
