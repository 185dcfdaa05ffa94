"""TrivialAugment and RandAugment from torchvision, image by image on a uint8 batch."""

import pytest
import torch

from imbalance_lab.strategies import AUTO_AUGMENTS, auto_augment_batch


def photos(n=6):
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)


@pytest.mark.parametrize("name", AUTO_AUGMENTS.names())
def test_policy_is_reproducible_and_leaves_the_global_generator_alone(name):
    images = photos()
    policy = AUTO_AUGMENTS.get(name)()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = auto_augment_batch(images, policy, torch.Generator().manual_seed(1))
    assert torch.equal(torch.get_rng_state(), state)
    b = auto_augment_batch(images, policy, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert a.dtype == torch.uint8 and a.shape == images.shape
    c = auto_augment_batch(images, policy, torch.Generator().manual_seed(2))
    assert not torch.equal(a, c)


def test_each_image_gets_its_own_op_and_the_mask_is_respected():
    images = photos(32)
    policy = AUTO_AUGMENTS.get("randaugment")(randaugment_ops=2, randaugment_magnitude=15)
    mask = torch.arange(32) % 2 == 0
    out = auto_augment_batch(images, policy, torch.Generator().manual_seed(3), mask)
    assert torch.equal(out[~mask], images[~mask])
    changed = (out[mask] != images[mask]).flatten(1).float().mean(dim=1)
    assert (changed > 0).sum() >= 12  # almost every augmented image changed...
    assert len({round(v, 3) for v in changed.tolist()}) > 4  # ...and not all the same way


def test_batch_must_be_uint8():
    with pytest.raises(ValueError, match="uint8"):
        auto_augment_batch(
            photos().float(), AUTO_AUGMENTS.get("trivialaugment")(), torch.Generator()
        )
