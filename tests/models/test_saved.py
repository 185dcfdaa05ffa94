"""A saved model file rebuilds the model with its own settings (a ResNet's head and width)."""

import pytest
import torch

from imbalance_lab.errors import ModelFileError
from imbalance_lab.models import create_model
from imbalance_lab.models.saved import load_saved_model
from imbalance_lab.training.checkpoint import FORMAT_VERSION, MODEL_FORMAT


def write(path, model, model_params):
    meta = {"model": "resnet20", "classes": ["a", "b"], "input_shape": [3, 32, 32]}
    if model_params is not None:
        meta["model_params"] = model_params
    obj = {"format": MODEL_FORMAT, "version": FORMAT_VERSION, "meta": meta}
    torch.save({**obj, "state_dict": model.state_dict()}, path)


def test_model_params_in_the_metadata_rebuild_a_cosine_head_model(tmp_path):
    model = create_model("resnet20", num_classes=2, head="cosine", width=8).eval()
    write(tmp_path / "m.pt", model, {"head": "cosine", "width": 8})
    loaded, _ = load_saved_model(tmp_path / "m.pt")
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(loaded(x), model(x))


def test_files_without_model_params_load_the_default_model(tmp_path):
    model = create_model("resnet20", num_classes=2).eval()
    write(tmp_path / "m.pt", model, None)
    loaded, _ = load_saved_model(tmp_path / "m.pt")
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(loaded(x), model(x))
    write(tmp_path / "bad.pt", model, {"head": "cosine"})  # weights of a linear head
    with pytest.raises(ModelFileError, match="does not hold a usable model"):
        load_saved_model(tmp_path / "bad.pt")
