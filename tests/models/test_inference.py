import pytest
import torch
from torch import nn

from imbalance_lab.errors import ConfigError
from imbalance_lab.models.inference import class_probabilities, tta_views


def test_views_are_the_image_its_mirror_and_one_pixel_shifts():
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).view(2, 3, 5, 5)
    assert len(tta_views(x, "none")) == 1 and tta_views(x, "none")[0] is x
    plain, mirror = tta_views(x, "flip")
    assert torch.equal(mirror, x[..., torch.arange(4, -1, -1)])
    views = tta_views(x, "flip-shift")
    assert len(views) == 6
    down_right = views[2]  # content moves one pixel down and right; the edge is reflected
    assert torch.equal(down_right[..., 1:, 1:], x[..., :-1, :-1])
    assert torch.equal(down_right[..., 0, 1:], x[..., 1, :-1])
    up_left = views[3]
    assert torch.equal(up_left[..., :-1, :-1], x[..., 1:, 1:])
    assert all(v.shape == x.shape for v in views)


def test_probabilities_are_the_mean_softmax_over_views_and_raw_is_the_plain_output():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(3))
    x = torch.randn(5, 3, 8, 8)
    probs, raw = class_probabilities(model, x, tta="flip-shift")
    expected = torch.stack([model(v).softmax(1) for v in tta_views(x, "flip-shift")]).mean(0)
    torch.testing.assert_close(probs, expected)
    torch.testing.assert_close(raw, model(x))
    torch.testing.assert_close(probs.sum(1), torch.ones(5))
    none, _ = class_probabilities(model, x)
    torch.testing.assert_close(none, model(x).softmax(1))


def test_faithful_outputs_are_already_probabilities():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2), nn.Softmax(dim=1))
    x = torch.randn(4, 3, 2, 2)
    probs, _ = class_probabilities(model, x, tta="flip", faithful=True)
    torch.testing.assert_close(probs, (model(x) + model(x.flip(3))) / 2)


def test_unknown_mode_is_refused():
    with pytest.raises(
        ConfigError, match="unknown TTA mode .rotate.; choose from: none, flip, flip-shift"
    ):
        tta_views(torch.zeros(1, 3, 4, 4), "rotate")
