"""mixup (Zhang et al. 2018) and cutmix (Yun et al. 2019) on a batch."""

import pytest
import torch
import torch.nn.functional as F

from imbalance_lab.errors import ConfigError
from imbalance_lab.strategies import MIXES, cutmix, mixup
from imbalance_lab.strategies.mix import cutmix_box, draw_lambda


def numbered_batch(n=8, dtype=torch.float32):
    # Image i is filled with the value 10 i: every pixel says which image it came from.
    images = (10 * torch.arange(n)).view(n, 1, 1, 1).expand(n, 3, 16, 16).to(dtype).clone()
    return images, torch.arange(n) % 4


def test_mixup_blends_images_and_labels_with_the_same_lambda():
    images, labels = numbered_batch()
    mixed = mixup(images, labels, 4, torch.Generator().manual_seed(0))
    p = mixed.partner
    assert sorted(p.tolist()) == list(range(8))  # a permutation of the batch
    assert torch.allclose(mixed.images, mixed.lam * images + (1 - mixed.lam) * images[p])
    expected = mixed.lam * F.one_hot(labels, 4) + (1 - mixed.lam) * F.one_hot(labels[p], 4)
    assert torch.allclose(mixed.target, expected.float())
    assert torch.allclose(mixed.target.sum(dim=1), torch.ones(8))


def test_mixup_keeps_uint8_rounded_to_the_nearest_level():
    images, labels = numbered_batch(dtype=torch.uint8)
    mixed = mixup(images, labels, 4, torch.Generator().manual_seed(1))
    assert mixed.images.dtype == torch.uint8
    exact = mixed.lam * images.float() + (1 - mixed.lam) * images[mixed.partner].float()
    assert (mixed.images.float() - exact).abs().max() <= 0.5


def test_cutmix_pastes_one_box_and_its_label_weight_is_the_area_kept():
    images, labels = numbered_batch()
    for seed in range(20):
        mixed = cutmix(images, labels, 4, torch.Generator().manual_seed(seed))
        p = mixed.partner
        own = (mixed.images == images).all(dim=1)  # (N, H, W): pixel kept from the image
        from_partner = (mixed.images == images[p]).all(dim=1)
        moved = p != torch.arange(8)
        # Every pixel comes from the image or its partner; the kept share is lam, exactly.
        assert (own | from_partner).all()
        assert own[moved].float().mean(dim=(1, 2)).tolist() == pytest.approx(
            [mixed.lam] * int(moved.sum())
        )
        expected = mixed.lam * F.one_hot(labels, 4) + (1 - mixed.lam) * F.one_hot(labels[p], 4)
        assert torch.allclose(mixed.target, expected.float())


def test_cutmix_box_has_side_sqrt_one_minus_lambda_unless_clipped():
    g = torch.Generator().manual_seed(3)
    for lam in (0.1, 0.5, 0.9):
        for _ in range(50):
            top, bottom, left, right = cutmix_box(32, 32, lam, g)
            assert 0 <= top <= bottom <= 32 and 0 <= left <= right <= 32
            side = 32 * (1 - lam) ** 0.5
            assert bottom - top <= round(side) + 1 and right - left <= round(side) + 1
            if top > 0 and bottom < 32:  # not clipped: the full side (up to rounding)
                assert abs((bottom - top) - side) <= 1


@pytest.mark.parametrize("alpha", [0.2, 1.0, 4.0])
def test_lambda_follows_beta_alpha_alpha(alpha):
    # Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1)).
    g = torch.Generator().manual_seed(4)
    draws = torch.tensor([draw_lambda(alpha, g) for _ in range(4000)], dtype=torch.float64)
    assert draws.mean().item() == pytest.approx(0.5, abs=0.02)
    assert draws.var().item() == pytest.approx(1 / (4 * (2 * alpha + 1)), rel=0.08)


@pytest.mark.parametrize("name", MIXES.names())
def test_mixing_is_reproducible_from_the_generator(name):
    images, labels = numbered_batch()
    a = MIXES.get(name)(images, labels, 4, torch.Generator().manual_seed(5))
    b = MIXES.get(name)(images, labels, 4, torch.Generator().manual_seed(5))
    assert torch.equal(a.images, b.images) and torch.equal(a.target, b.target)
    assert a.lam == b.lam


def test_bad_alpha_is_refused():
    with pytest.raises(ConfigError, match="mix alpha must be a number > 0; got 0"):
        draw_lambda(0, torch.Generator())
