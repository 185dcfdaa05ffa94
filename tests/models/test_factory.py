"""Your own model: --model package.module:factory."""

import sys

import pytest

from imbalance_lab.errors import ConfigError
from imbalance_lab.models import create_model
from tests.models.user_models import NETS, install


@pytest.fixture
def nets(tmp_path, monkeypatch):
    install(tmp_path, monkeypatch, "user_nets_f", NETS)
    yield "user_nets_f"
    sys.modules.pop("user_nets_f", None)


def test_a_factory_builds_the_model_and_gets_the_sizes_it_declares(nets):
    model = create_model(f"{nets}:small_net", num_classes=3, in_channels=1, image_size=28)
    assert sys.modules[nets].CALLS == [(3, 1, 28)]
    assert model.head.out_features == 3 and model.features[0].in_channels == 1
    spec = model.model_spec
    assert (spec.name, spec.source, spec.head) == (f"{nets}:small_net", "factory", "head")
    assert spec.input.mean == (0.5,) and spec.input.size == 28
    create_model(f"{nets}:only_classes", num_classes=2, in_channels=3, image_size=32)
    assert sys.modules[nets].CALLS[-1] == (2,)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no_such_pkg_xyz.nets:make", "--model no_such_pkg_xyz.nets:make: cannot import no_such_pkg_xyz.nets (ModuleNotFoundError: No module named 'no_such_pkg_xyz'); is it on PYTHONPATH?"),
        ("NETS:missing", "--model NETS:missing: NETS has no attribute 'missing'"),
        ("NETS:CALLS", "--model NETS:CALLS: CALLS is a list, not a function"),
        ("NETS:not_a_model", "the factory returned a str, not a torch nn.Module"),
        ("NETS:broken", "the factory failed with RuntimeError: boom; a factory takes the number of classes"),
        ("my nets:make", "--model 'my nets:make' is not a factory reference; write package.module:function"),
    ],
)  # fmt: skip
def test_a_factory_that_cannot_be_used_gets_one_line(nets, name, message):
    name = name.replace("NETS", nets)
    with pytest.raises(ConfigError) as err:
        create_model(name, num_classes=2)
    assert message.replace("NETS", nets) in str(err.value) and "\n" not in str(err.value)


def test_the_model_flag_takes_a_registered_name_or_a_factory_spelled_right():
    from imbalance_lab.models.registry import parse_model_name

    assert parse_model_name("resnet18") == "resnet18"
    assert parse_model_name("pkg.never_imported:make") == "pkg.never_imported:make"
    assert "pkg" not in sys.modules  # spelling only: importing waits until the model is built
    with pytest.raises(
        ConfigError, match=r"--model 'resnet19' is neither a registered model \(did you mean"
    ):
        parse_model_name("resnet19")
