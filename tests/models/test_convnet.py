"""The article's ConvNet: the corrected net at any size, the faithful one only as the article ran it."""

import pytest
import torch

from imbalance_lab.errors import ConfigError
from imbalance_lab.models import create_model


def _head_map(model, x):
    """The 1x1 head's class map (N, C, H/8, W/8), captured on the way through ``model``."""
    seen = []
    handle = model.head.register_forward_hook(lambda _m, _i, out: seen.append(out))
    try:
        final = model(x)
    finally:
        handle.remove()
    return final, seen[0]


@pytest.mark.parametrize("size", [8, 24, 28, 32, 48, 64, 96])
@pytest.mark.parametrize("num_classes", [2, 10])
def test_corrected_convnet_gives_one_score_per_class_at_any_size(size, num_classes):
    model = create_model("article-convnet", num_classes=num_classes, image_size=size).eval()
    x = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(size))
    logits, head = _head_map(model, x)
    assert logits.shape == (3, num_classes)
    # Global average pooling: every position of the head's map counts.
    assert torch.allclose(logits, head.mean(dim=(2, 3)), atol=1e-6)


def test_faithful_convnet_at_32_px_keeps_the_articles_3x3_pool_of_the_top_left_corner():
    torch.manual_seed(0)
    model = create_model("article-convnet", num_classes=2, image_size=32, faithful=True).eval()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    probs, head = _head_map(model, x)
    assert head.shape[2:] == (4, 4)
    # The article's AvgPool2d(3) with stride 3 reads only the top-left 3x3 of the 4x4 map,
    # then the article applies softmax.
    expected = head[:, :, :3, :3].mean(dim=(2, 3)).softmax(dim=1)
    assert torch.allclose(probs, expected, atol=1e-6)
    assert not torch.allclose(probs, head.mean(dim=(2, 3)).softmax(dim=1), atol=1e-4)


@pytest.mark.parametrize("size", [24, 28, 48, 64])
def test_faithful_convnet_refuses_any_size_but_32_in_one_line(size):
    with pytest.raises(ConfigError) as error:
        create_model("article-convnet", num_classes=2, image_size=size, faithful=True)
    message = str(error.value)
    assert f"got {size}x{size}" in message
    assert "faithful replays the article's 32x32 network" in message
    assert "\n" not in message


@pytest.mark.parametrize("size", [4, 7])
def test_corrected_convnet_refuses_images_its_three_pools_cannot_shrink(size):
    with pytest.raises(ConfigError, match=f"at least 8x8, got {size}x{size}"):
        create_model("article-convnet", num_classes=2, image_size=size)
