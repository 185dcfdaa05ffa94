"""The model file: rebuilt without running code from it, read back in both versions."""

import importlib
import sys

import pytest
import torch

from imbalance_lab.errors import ModelFileError
from imbalance_lab.io import torch_bytes
from imbalance_lab.models import create_model
from imbalance_lab.models.predict import predict_files
from imbalance_lab.models.saved import (
    FORMAT_VERSION,
    MODEL_FORMAT,
    load_saved_model,
    model_meta,
    prepare_images,
    save_model,
)
from imbalance_lab.models.spec import InputSpec
from tests.models.user_models import MARKER, NETS, install

X = torch.randint(
    0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
)


@pytest.fixture
def nets(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "user_nets_s", NETS)
    yield "user_nets_s"
    sys.modules.pop("user_nets_s", None)


def _save(path, model, **extra):
    meta = model_meta(model, classes=("cat", "dog"), image_shape=(3, 32, 32), **extra)
    save_model(path, model, meta)
    return path


def _outputs(model, spec: InputSpec):
    with torch.no_grad():
        return model.eval()(spec.normalize(X))


@pytest.mark.slow  # three ResNet-18s: ~3 s on an idle 2-core machine
def test_a_backbone_is_rebuilt_with_its_stem_and_spec_without_its_pretrained_file(tmp_path):
    import torchvision

    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "w.pth")
    model = create_model(
        "resnet18", num_classes=2, image_size=32, pretrained=str(tmp_path / "w.pth")
    )
    _save(tmp_path / "model.pt", model)
    (tmp_path / "w.pth").unlink()  # the weights are in the model file; the start point is a record
    loaded, meta = load_saved_model(tmp_path / "model.pt")
    assert meta["model_params"] == {"stem": "small"} and meta["pretrained"] == str(
        tmp_path / "w.pth"
    )
    assert loaded.model_spec.input == model.model_spec.input
    assert meta["input"]["mean"] == [0.485, 0.456, 0.406]
    torch.testing.assert_close(
        _outputs(loaded, loaded.model_spec.input), _outputs(model, model.model_spec.input)
    )


def test_a_factory_model_loads_only_when_the_user_names_it_or_trusts_the_file(tmp_path, nets):
    name = f"{nets}:small_net"
    model = create_model(name, num_classes=2)
    path = _save(tmp_path / "model.pt", model)
    with pytest.raises(ModelFileError, match=f"built by the factory '{name}', code that loading it would "
                                             f"import and run; if you trust it, name it yourself "
                                             rf"\(--model {name}\) or pass --trust-factory"):  # fmt: skip
        load_saved_model(path)
    for kwargs in ({"factory": name}, {"trust_factory": True}):
        loaded, meta = load_saved_model(path, **kwargs)
        assert meta["model_source"] == "factory"
        torch.testing.assert_close(
            _outputs(loaded, loaded.model_spec.input), _outputs(model, model.model_spec.input)
        )


@pytest.mark.parametrize("source", ["factory", "registry", "object"])
def test_a_file_naming_code_is_refused_and_nothing_runs(tmp_path, monkeypatch, source):
    install(tmp_path, monkeypatch, "marker_mod", MARKER)
    for name in ("os:system", "marker_mod:make"):
        path = _save(tmp_path / "model.pt", create_model("article-convnet", num_classes=2))
        obj = torch.load(path, weights_only=True)
        obj["meta"].update(model=name, model_source=source)
        (tmp_path / "evil.pt").write_bytes(torch_bytes(obj))
        with pytest.raises(ModelFileError, match=f"built by the factory '{name}'"):
            load_saved_model(tmp_path / "evil.pt")
        with pytest.raises(
            ModelFileError, match="--trust-factory"
        ):  # predict reads it the same way
            predict_files(tmp_path / "evil.pt", [tmp_path])
    assert "marker_mod" not in sys.modules
    assert not (tmp_path / "IMPORTED").exists()


def test_a_model_passed_as_an_object_needs_its_architecture_from_the_user(tmp_path, nets):
    module = importlib.import_module(nets)
    model = module.SmallNet(2)
    path = _save(tmp_path / "model.pt", model)
    with pytest.raises(ModelFileError, match=rf"holds the weights of {nets}.SmallNet, a model passed "
                                             r"to fit\(\) as an object; name a factory"):  # fmt: skip
        load_saved_model(path)
    spec = InputSpec.uniform(3, 32, 0.5, 0.5)
    for kwargs in ({"factory": f"{nets}:small_net"}, {"model": module.SmallNet(2)}):
        loaded, meta = load_saved_model(path, **kwargs)
        assert meta["model_source"] == "object"
        torch.testing.assert_close(_outputs(loaded, spec), _outputs(model, spec))


def test_weights_that_do_not_fit_the_named_factory_name_the_key(tmp_path, nets):
    path = _save(tmp_path / "model.pt", create_model("article-convnet", num_classes=2))
    with pytest.raises(
        ModelFileError, match="does not fit article-convnet: missing key 'features.0.weight'"
    ):
        load_saved_model(path, factory=f"{nets}:small_net")


def test_version_1_files_still_load(tmp_path):
    torch.manual_seed(0)
    model = create_model("article-convnet", num_classes=2).eval()
    meta_v1 = {"model": "article-convnet", "faithful": False, "classes": ["cat", "dog"],
               "input_shape": [3, 32, 32], "normalize": {"mean": [0.5] * 3, "std": [0.5] * 3},
               "tta": "none", "config": {}, "threshold": 0.3}  # fmt: skip
    state = {k: v.clone() for k, v in model.state_dict().items()}
    (tmp_path / "v1.pt").write_bytes(
        torch_bytes({"format": MODEL_FORMAT, "version": 1, "state_dict": state, "meta": meta_v1})
    )
    loaded, meta = load_saved_model(tmp_path / "v1.pt")
    assert meta["threshold"] == 0.3 and meta["model_source"] == "registry"
    expected = model(X.float() / 127.5 - 1)  # the version-1 reading of the file's normalize
    torch.testing.assert_close(loaded(prepare_images(X, meta)), expected)


def test_a_newer_version_and_foreign_files_are_refused(tmp_path):
    path = _save(tmp_path / "model.pt", create_model("article-convnet", num_classes=2))
    obj = torch.load(path, weights_only=True)
    assert obj["version"] == FORMAT_VERSION == 2
    (tmp_path / "v3.pt").write_bytes(torch_bytes({**obj, "version": 3}))
    with pytest.raises(ModelFileError, match="has model format version 3; this tool reads 1, 2"):
        load_saved_model(tmp_path / "v3.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ModelFileError, match="is not an imbalance-lab model file"):
        load_saved_model(tmp_path / "other.pt")


def test_settings_in_the_file_cannot_steer_the_loader(tmp_path):
    path = _save(tmp_path / "model.pt", create_model("mobilenet_v3_small", num_classes=2))
    obj = torch.load(path, weights_only=True)
    obj["meta"]["model_params"].update(pretrained="/etc/passwd", num_classes=7, download=True)
    (tmp_path / "steer.pt").write_bytes(torch_bytes(obj))
    loaded, _ = load_saved_model(tmp_path / "steer.pt")
    assert loaded.classifier[3].out_features == 2 and loaded.model_spec.pretrained is None


def _fit(tiny_folder, out, **kw):
    from imbalance_lab.config import RunConfig
    from imbalance_lab.data import build_task
    from imbalance_lab.training import fit

    cfg = RunConfig(data=str(tiny_folder), classes=("cat", "dog"), epochs=1, threads=2)
    cfg = cfg.replace(**{k: v for k, v in kw.items() if k != "model_object"})
    task = build_task(cfg)
    result = fit(cfg, task, model=kw.get("model_object"), out_dir=out, progress=False)
    return result.model, task.test.images[:8]


def test_a_module_passed_to_fit_is_saved_as_an_object_not_as_the_configs_model(
    tiny_folder, tmp_path, nets
):
    user = importlib.import_module(nets)
    trained, images = _fit(tiny_folder, tmp_path / "object", model_object=user.SmallNet(2))
    with pytest.raises(ModelFileError, match="a model passed to fit"):
        load_saved_model(tmp_path / "object" / "model.pt")
    loaded, meta = load_saved_model(tmp_path / "object" / "model.pt", model=user.SmallNet(2))
    torch.testing.assert_close(
        loaded(prepare_images(images, meta)), trained(prepare_images(images, meta))
    )


def test_a_factory_named_in_the_config_is_saved_as_a_factory(tiny_folder, tmp_path, nets):
    name = f"{nets}:small_net"
    _fit(tiny_folder, tmp_path / "factory", model=name)
    with pytest.raises(ModelFileError, match="--trust-factory"):
        load_saved_model(tmp_path / "factory" / "model.pt")
    assert load_saved_model(tmp_path / "factory" / "model.pt", factory=name)[1]["model"] == name


@pytest.mark.parametrize(("name", "params"), [("resnet20", {"head": "cosine", "width": 8}),
                                              ("glmc-resnet32", {"width": 8})])  # fmt: skip
def test_a_resnet_is_rebuilt_with_its_head_and_width(tmp_path, name, params):
    model = create_model(name, num_classes=2, **params)
    _save(tmp_path / "model.pt", model)
    loaded, meta = load_saved_model(tmp_path / "model.pt")
    assert meta["model_params"] == params
    spec = loaded.model_spec.input
    assert torch.equal(_outputs(loaded, spec), _outputs(model, spec))
