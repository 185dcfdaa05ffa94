import numpy as np
import pytest

from imbalance_lab.data import parse_imbalance, pick_indices, resolve_counts
from imbalance_lab.errors import ConfigError, DataError

CATS_DOGS = ["cat", "dog"]


@pytest.mark.parametrize("ratio", ["4", "4:1", 4.0])
def test_article_ratio_gives_4800_cats_and_1200_dogs(ratio):
    spec = parse_imbalance(2, ratio=ratio)
    assert resolve_counts(spec, [5000, 5000], CATS_DOGS) == [4800, 1200]


def test_ratio_one_is_the_balanced_5000_5000():
    assert resolve_counts(parse_imbalance(2, ratio="1"), [5000, 5000], CATS_DOGS) == [5000, 5000]


def test_ratio_with_size_and_explicit_counts():
    assert resolve_counts(parse_imbalance(2, ratio="4", size=500), [5000, 5000], CATS_DOGS) == [
        400,
        100,
    ]
    assert resolve_counts(parse_imbalance(2, counts="300,20"), [5000, 5000], CATS_DOGS) == [300, 20]


# The CIFAR-10-LT training counts of the Cui et al. 2019 / Cao et al. 2019 protocol, as
# published with those splits (and reused by later long-tail work, e.g. Meta-Weight-Net's
# factor-10 split): 12,406 images at imbalance factor 100, 20,431 at factor 10.
CIFAR10_LT = {
    100: [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50],
    10: [5000, 3871, 2997, 2320, 1796, 1391, 1077, 834, 645, 500],
}


@pytest.mark.parametrize("factor", sorted(CIFAR10_LT))
def test_long_tail_gives_the_published_cifar10_lt_counts(factor):
    spec = parse_imbalance(10, long_tail=factor)
    counts = resolve_counts(spec, [5000] * 10, [str(i) for i in range(10)])
    assert counts == CIFAR10_LT[factor]
    assert sum(counts) == {100: 12_406, 10: 20_431}[factor]


def test_picking_is_deterministic_per_seed_and_exact_per_class():
    labels = np.repeat([0, 1], 100)
    a, b, c = (pick_indices(labels, [80, 20], s) for s in (1, 1, 2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.bincount(labels[a]).tolist() == [80, 20]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ratio": "0"}, "must be finite and > 0"),
        ({"ratio": "-4"}, "must be finite and > 0"),
        ({"ratio": "four"}, "must be numbers"),
        ({"ratio": "4:2:1"}, "3 parts but there are 2 classes"),
        ({"counts": "10"}, "1 values but there are 2 classes"),
        ({"counts": "10.5,3"}, "whole numbers"),
        ({"counts": "0,3"}, "> 0"),
        ({"long_tail": 0.5}, ">= 1"),
        ({"ratio": "4", "counts": "1,2"}, "only one of"),
        ({"counts": "1,2", "size": 10}, "goes with --ratio"),
    ],
)
def test_bad_specs_name_the_problem(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        parse_imbalance(2, **kwargs)


def test_asking_for_more_images_than_exist_says_how_many_exist():
    with pytest.raises(DataError, match="needs 6000 'cat' training images, but only 5000 exist"):
        resolve_counts(parse_imbalance(2, counts="6000,10"), [5000, 5000], CATS_DOGS)
    with pytest.raises(DataError, match="only 5000 exist"):
        resolve_counts(parse_imbalance(2, ratio="4", size=7000), [5000, 5000], CATS_DOGS)
