import pytest

from imbalance_lab.errors import ConfigError
from imbalance_lab.strategies import class_weight_scheme, parse_class_weights


def test_article_weights_parse():
    assert parse_class_weights("0.15,0.85", 2) == (0.15, 0.85)
    assert parse_class_weights([0, 1], 2) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-0.1,1", ">= 0"),
        ("nan,1", "finite"),
        ("inf,1", "finite"),
        ("0.5", "one weight per class \\(2\\), got 1"),
        ("0.2,0.3,0.5", "one weight per class \\(2\\), got 3"),
        ("0,0", "cannot all be zero"),
        ("a,b", "numbers separated by commas"),
    ],
)
def test_bad_weights_get_one_line_errors(value, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_class_weights(value, 2)
    assert "\n" not in str(info.value)


def test_weighted_cross_entropy_matches_torch_and_survives_an_all_zero_weight_batch():
    import torch

    from imbalance_lab.strategies.losses import WeightedCrossEntropy

    g = torch.Generator().manual_seed(0)
    logits, target = torch.randn(32, 2, generator=g), torch.randint(0, 2, (32,), generator=g)
    w = torch.tensor([0.15, 0.85])
    expected = torch.nn.CrossEntropyLoss(weight=w)(logits, target)
    assert torch.allclose(WeightedCrossEntropy(w)(logits, target), expected)
    assert torch.allclose(
        WeightedCrossEntropy()(logits, target), torch.nn.functional.cross_entropy(logits, target)
    )
    cats_only = torch.zeros(8, dtype=torch.long)
    assert WeightedCrossEntropy(torch.tensor([0.0, 1.0]))(logits[:8], cats_only).item() == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_balanced_weights_match_sklearn(seed):
    import numpy as np
    from sklearn.utils.class_weight import compute_class_weight

    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 500, size=rng.integers(2, 11))
    labels = np.repeat(np.arange(counts.size), counts)
    expected = compute_class_weight("balanced", classes=np.arange(counts.size), y=labels)
    assert class_weight_scheme("balanced", counts) == pytest.approx(expected, rel=1e-12)


def test_effective_number_weights_follow_cui_et_al():
    counts = [1000, 100, 10]
    beta = 0.999
    raw = [(1 - beta) / (1 - beta**n) for n in counts]
    expected = [w * 3 / sum(raw) for w in raw]
    weights = class_weight_scheme("effective-number", counts, beta=beta)
    assert weights == pytest.approx(expected)
    assert sum(weights) == pytest.approx(3)
    assert weights[0] < weights[1] < weights[2]
    # beta = 0: every class counts once, so equal weights.
    assert class_weight_scheme("effective-number", counts, beta=0) == pytest.approx((1, 1, 1))
    # beta -> 1: the effective number tends to n_c, so the weights tend to 1 / n_c.
    near_one = class_weight_scheme("effective-number", counts, beta=1 - 1e-9)
    assert near_one[2] / near_one[0] == pytest.approx(100, rel=1e-3)


@pytest.mark.parametrize("name", ["balanced", "effective-number"])
def test_normalized_weights_sum_to_one_with_the_same_ratios(name):
    counts = [900, 100]
    plain = class_weight_scheme(name, counts)
    normalized = class_weight_scheme(name, counts, normalize=True)
    assert sum(normalized) == pytest.approx(1)
    assert normalized[1] / normalized[0] == pytest.approx(plain[1] / plain[0])
    # The article's 90/10 split gives its weights of 0.1 and 0.9.
    assert class_weight_scheme("balanced", counts, normalize=True) == pytest.approx((0.1, 0.9))


@pytest.mark.parametrize(
    ("name", "counts", "kwargs", "message"),
    [
        (
            "balance",
            [5, 5],
            {},
            "unknown weight scheme 'balance' \\(did you mean 'balanced'\\?\\)",
        ),
        ("inverse", [5, 5], {}, "choose from: balanced, effective-number"),
        ("effective-number", [5, 5], {"beta": 1.0}, "beta must be a number in \\[0, 1\\); got 1.0"),
        (
            "effective-number",
            [5, 5],
            {"beta": -0.1},
            "beta must be a number in \\[0, 1\\); got -0.1",
        ),
        ("balanced", [5, 0], {}, "at least one sample of every class; got counts \\(5, 0\\)"),
        ("balanced", [5, 2.5], {}, "whole numbers, one per class"),
        ("balanced", [], {}, "whole numbers, one per class"),
    ],
)
def test_bad_weight_schemes_get_one_line_errors(name, counts, kwargs, message):
    with pytest.raises(ConfigError, match=message) as info:
        class_weight_scheme(name, counts, **kwargs)
    assert "\n" not in str(info.value)
