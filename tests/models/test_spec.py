"""The input record every consumer of a model reads."""

import pytest
import torch
from torch import nn
from torchvision.transforms.v2 import functional as TF

from imbalance_lab.models import create_model, spec_of
from imbalance_lab.models.spec import InputSpec

ALL_PIXELS = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).expand(2, 3, 16, 16)


def test_article_normalisation_is_bit_identical_to_the_trainers_formula():
    # The arithmetic the trainer always used: x / (255 * 0.5) - 0.5 / 0.5, on every uint8 value.
    expected = ALL_PIXELS.float().div_(127.5).sub_(1.0)
    assert torch.equal(InputSpec.uniform(3, 16, 0.5, 0.5).normalize(ALL_PIXELS), expected)


def test_imagenet_normalisation_matches_torchvision():
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    expected = TF.normalize(ALL_PIXELS.float() / 255, list(mean), list(std))
    torch.testing.assert_close(InputSpec(3, 16, mean, std).normalize(ALL_PIXELS), expected)


def test_normalize_leaves_a_float_input_alone():
    x = torch.full((1, 3, 2, 2), 255.0)
    InputSpec.uniform(3, 2, 0.5, 0.5).normalize(x)
    assert (x == 255).all()


def test_grey_images_get_the_mean_of_the_rgb_statistics():
    spec = InputSpec.for_channels(1, 28, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert spec.mean == pytest.approx((0.449,)) and spec.std == pytest.approx((0.226,))


@pytest.mark.parametrize("name", ["article-convnet", "resnet20", "resnet32", "majority"])
def test_the_projects_models_keep_the_articles_normalisation(name):
    spec = spec_of(create_model(name, num_classes=2))
    assert (spec.name, spec.source) == (name, "registry")
    assert spec.input == InputSpec(3, 32, (0.5,) * 3, (0.5,) * 3)


def test_a_module_built_elsewhere_gets_0_5_unless_it_declares_its_own():
    plain = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    spec = spec_of(plain, 3, 2)
    assert spec.source == "object" and spec.name == "torch.nn.modules.container.Sequential"
    assert spec.input.mean == (0.5,) * 3
    plain.input_spec = {"mean": [0.1, 0.2, 0.3], "std": [0.4, 0.5, 0.6]}
    assert spec_of(plain, 3, 2).input == InputSpec(3, 2, (0.1, 0.2, 0.3), (0.4, 0.5, 0.6))


def test_round_trip_through_a_dict():
    spec = InputSpec(3, 64, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert InputSpec.from_dict(spec.to_dict()) == spec
