"""Pretrained weights from a local file or torch's hub cache (no machine here can download)."""

import pickle
import re

import pytest
import torch
import torchvision

from imbalance_lab.errors import ConfigError, ModelFileError
from imbalance_lab.models import create_model
from imbalance_lab.models.backbones import backbone, build_backbone
from imbalance_lab.models.pretrained import fetch

# torchvision's published file for ResNet18_Weights.IMAGENET1K_V1 (its URL's last part).
RESNET18_FILE = "resnet18-f37072fd.pth"


@pytest.fixture(scope="module")
def resnet18_weights():
    torch.manual_seed(1)
    return torchvision.models.resnet18(weights=None).state_dict()  # 1000-class head


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def _same(model, weights, key) -> bool:
    return torch.equal(model.state_dict()[key], weights[key])


def test_a_weights_file_loads_everything_but_the_new_head(tmp_path, resnet18_weights):
    path = tmp_path / "weights.pth"
    torch.save(resnet18_weights, path)
    model = create_model("resnet18", num_classes=2, image_size=64, pretrained=str(path))
    for key in resnet18_weights:
        if not key.startswith("fc."):
            assert _same(model, resnet18_weights, key), key
    assert model.fc.weight.shape == (2, 512)
    assert model.model_spec.pretrained == str(path)


def test_the_small_stem_loads_all_but_its_new_conv_and_says_so(tmp_path, resnet18_weights):
    path = tmp_path / "weights.pth"
    torch.save(resnet18_weights, path)
    model = create_model("resnet18", num_classes=2, image_size=32, pretrained=str(path))
    assert model.conv1.weight.shape == (64, 3, 3, 3)
    assert _same(model, resnet18_weights, "bn1.running_var")
    assert _same(model, resnet18_weights, "layer4.1.conv2.weight")
    assert "except the head and the new stem conv conv1 (random init)" in model.model_spec.notes[0]


def test_mobilenet_small_stem_keeps_every_pretrained_weight(tmp_path):
    torch.manual_seed(2)
    weights = torchvision.models.mobilenet_v3_small(weights=None).state_dict()
    torch.save(weights, tmp_path / "w.pt")
    model = create_model("mobilenet_v3_small", num_classes=2, image_size=32,
                         pretrained=str(tmp_path / "w.pt"))  # fmt: skip
    assert all(_same(model, weights, k) for k in weights if not k.startswith("classifier.3."))
    assert "new stem" not in model.model_spec.notes[0]


@pytest.mark.parametrize("name", ["IMAGENET1K_V1", "ResNet18_Weights.IMAGENET1K_V1", "DEFAULT"])
def test_a_weights_name_is_read_from_the_hub_cache(hub, resnet18_weights, name):
    hub.mkdir(parents=True)
    torch.save(resnet18_weights, hub / RESNET18_FILE)
    model = build_backbone(backbone("resnet18"), num_classes=2, in_channels=3, image_size=64,
                           pretrained=name, download=False)  # fmt: skip
    assert _same(model, resnet18_weights, "layer1.0.conv1.weight")
    assert model.model_spec.input.mean == (0.485, 0.456, 0.406)


def test_offline_with_nothing_cached_says_where_to_put_the_file(hub):
    with pytest.raises(ConfigError) as err:
        build_backbone(backbone("resnet18"), num_classes=2, in_channels=3, image_size=64,
                       pretrained="IMAGENET1K_V1", download=False)  # fmt: skip
    message = str(err.value)
    assert "\n" not in message
    assert message.endswith(
        f"download https://download.pytorch.org/models/{RESNET18_FILE} and save it as "
        f"{hub / RESNET18_FILE}"
    )


def test_a_failed_download_names_the_reason_and_the_place(tmp_path):
    # Port 1 on this machine: nothing listens, the connection is refused at once.
    with pytest.raises(ConfigError, match=r"cannot be downloaded \(no network: .*\); download "):
        fetch(f"http://127.0.0.1:1/{RESNET18_FILE}", tmp_path / RESNET18_FILE)
    assert not (tmp_path / RESNET18_FILE).exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ResNet50_Weights.IMAGENET1K_V1", "are weights of another model; resnet18 takes ResNet18_Weights: IMAGENET1K_V1, DEFAULT"),
        ("IMAGENET1K_V9", "no such weights for resnet18 (did you mean 'IMAGENET1K_V1'?)"),
        ("Nope.IMAGENET1K_V1", "torchvision has no such weights"),
        ("missing/weights.pth", "weights file not found: missing/weights.pth"),
    ],
)  # fmt: skip
def test_bad_names_are_one_line(value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        create_model("resnet18", num_classes=2, image_size=64, pretrained=value)


def test_weights_of_another_architecture_name_the_first_mismatched_key(tmp_path):
    torch.manual_seed(3)
    torch.save(torchvision.models.mobilenet_v3_small(weights=None).state_dict(), tmp_path / "m.pt")
    with pytest.raises(ModelFileError, match=r"does not fit resnet18: missing key 'conv1.weight'"):
        create_model("resnet18", num_classes=2, image_size=64, pretrained=str(tmp_path / "m.pt"))


def test_a_changed_shape_and_an_extra_key_are_named(tmp_path, resnet18_weights):
    wrong = dict(resnet18_weights, **{"layer1.0.conv1.weight": torch.zeros(64, 64, 1, 1)})
    torch.save(wrong, tmp_path / "shape.pt")
    with pytest.raises(ModelFileError, match=r"'layer1.0.conv1.weight' has shape \(64, 64, 1, 1\) "
                                             r"in the file, \(64, 64, 3, 3\) in the model"):  # fmt: skip
        create_model(
            "resnet18", num_classes=2, image_size=64, pretrained=str(tmp_path / "shape.pt")
        )
    torch.save(dict(resnet18_weights, extra=torch.zeros(1)), tmp_path / "extra.pt")
    with pytest.raises(ModelFileError, match="unexpected key 'extra'"):
        create_model(
            "resnet18", num_classes=2, image_size=64, pretrained=str(tmp_path / "extra.pt")
        )


class Payload:
    def __reduce__(self):
        return (print, ("this would run",))


def test_a_weights_file_carrying_code_is_refused(tmp_path):
    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"conv1.weight": Payload()}, f)
    with pytest.raises(ModelFileError, match="refused: it carries a pickle payload"):
        create_model(
            "resnet18", num_classes=2, image_size=64, pretrained=str(tmp_path / "evil.pth")
        )
