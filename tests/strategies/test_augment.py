"""Batched augmentation: whole-batch ops, masks, determinism."""

import time

import pytest
import torch

from imbalance_lab.errors import ConfigError
from imbalance_lab.strategies import AugmentConfig, augment_batch


def batch(n: int = 64, c: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, c, size, size), dtype=torch.uint8, generator=g)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


CONFIGS = [
    AugmentConfig(),
    AugmentConfig(pad_mode="zeros"),
    AugmentConfig(crop_pad=2, flip=False),
    AugmentConfig(jitter=0.2),
    AugmentConfig(cutout=16),
]


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("channels", [1, 3])
def test_shape_and_dtype_are_kept_and_the_result_is_deterministic(cfg, channels):
    x = batch(c=channels)
    out = augment_batch(x, cfg, gen(1))
    assert out.shape == x.shape and out.dtype == torch.uint8
    assert torch.equal(out, augment_batch(x, cfg, gen(1)))
    assert not torch.equal(out, augment_batch(x, cfg, gen(2)))
    assert not torch.equal(out, x)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_mask_leaves_the_other_images_bit_identical(cfg):
    x = batch()
    mask = torch.arange(64) % 3 == 0
    out = augment_batch(x, cfg, gen(5), mask=mask)
    assert torch.equal(out[~mask], x[~mask])
    # The masked images get what they would get without a mask.
    assert torch.equal(out[mask], augment_batch(x, cfg, gen(5))[mask])


def test_flip_only_flips_about_half_the_images_and_nothing_else():
    x = batch(n=256)
    out = augment_batch(x, AugmentConfig(crop_pad=0, flip=True), gen(0))
    flipped = (out == torch.flip(x, dims=[3])).flatten(1).all(dim=1)
    kept = (out == x).flatten(1).all(dim=1)
    assert (flipped ^ kept).all()  # random images are never symmetric
    assert torch.equal(out, torch.where(flipped.view(-1, 1, 1, 1), torch.flip(x, dims=[3]), x))
    assert 90 < int(flipped.sum()) < 166


def test_crop_with_pad_0_and_no_flip_is_the_identity():
    x = batch()
    assert torch.equal(augment_batch(x, AugmentConfig(crop_pad=0, flip=False), gen(0)), x)


@pytest.mark.parametrize("pad_mode", ["reflect", "zeros"])
def test_crop_is_a_shifted_window_of_the_padded_image(pad_mode):
    x = batch(n=32)
    out = augment_batch(x, AugmentConfig(crop_pad=4, flip=False, pad_mode=pad_mode), gen(3))
    mode = "reflect" if pad_mode == "reflect" else "constant"
    padded = torch.nn.functional.pad(x.float(), (4, 4, 4, 4), mode=mode).to(torch.uint8)
    for i in range(x.shape[0]):
        windows = [padded[i, :, a : a + 32, b : b + 32] for a in range(9) for b in range(9)]
        assert any(torch.equal(out[i], w) for w in windows)


def test_jitter_is_mild():
    x = batch()
    out = augment_batch(x, AugmentConfig(crop_pad=0, flip=False, jitter=0.1), gen(0))
    assert (out.float() - x.float()).abs().mean() < 20


def test_a_512_image_batch_takes_well_under_a_second():
    x = batch(n=512)
    augment_batch(x, AugmentConfig(jitter=0.1), gen(0))  # warm up
    start = time.perf_counter()
    augment_batch(x, AugmentConfig(jitter=0.1), gen(1))
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"crop_pad": -1}, "crop_pad must be an int >= 0; got -1"),
        ({"crop_pad": 1.5}, "crop_pad must be an int >= 0; got 1.5"),
        ({"pad_mode": "edge"}, "pad_mode must be one of reflect, zeros; got 'edge'"),
        ({"jitter": 1.0}, "jitter must be a number in \\[0, 1\\); got 1.0"),
        ({"cutout": -2}, "cutout must be an int >= 0 \\(the square's side\\); got -2"),
    ],
)
def test_bad_configs_get_one_line_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        AugmentConfig(**kwargs)


def test_bad_batches_are_refused():
    with pytest.raises(ValueError, match="uint8"):
        augment_batch(batch().float(), AugmentConfig(), gen())
    with pytest.raises(ValueError, match="mask must be a bool tensor of shape \\(64,\\)"):
        augment_batch(batch(), AugmentConfig(), gen(), mask=torch.ones(3, dtype=torch.bool))
    with pytest.raises(ConfigError, match="smaller than the image"):
        augment_batch(batch(size=4), AugmentConfig(crop_pad=4), gen())


def test_folded_jitter_equals_brightness_then_contrast_then_saturation():
    from imbalance_lab.strategies.augment import _jitter

    x = batch(n=16)
    b, k, s = 1 + 0.3 * (2 * torch.rand((3, 16, 1, 1, 1), generator=gen(7)) - 1)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    y = x.float() * b
    mean_gray = (y * luma).sum(dim=1, keepdim=True).mean(dim=(2, 3), keepdim=True)
    y = (y - mean_gray) * k + mean_gray
    gray = (y * luma).sum(dim=1, keepdim=True)
    expected = ((y - gray) * s + gray).round().clamp(0, 255)
    got = _jitter(x, 0.3, gen(7)).float()
    assert (got - expected).abs().max() <= 1  # float rounding may move a value by one level


def test_cutout_grays_one_clipped_square_per_image_and_keeps_the_rest():
    x = batch(n=256)
    side = 16
    out = augment_batch(x, AugmentConfig(crop_pad=0, flip=False, cutout=side), gen(3))
    changed = out != x
    assert torch.equal(out[changed], torch.full_like(out[changed], 128))
    # Every image has its hole: a rectangle, the same in all channels, at most side x side,
    # and a full square when its centre is far enough from the edges.
    holes = (out == 128).all(dim=1)  # (N, H, W); random pixels are rarely 128 in all channels
    full = 0
    for hole in holes:
        rows, cols = hole.any(dim=1).nonzero().flatten(), hole.any(dim=0).nonzero().flatten()
        assert 0 < len(rows) <= side and 0 < len(cols) <= side
        assert hole[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
        full += len(rows) == len(cols) == side
    assert 0 < full < 256  # centres fall both inside and near the edges
