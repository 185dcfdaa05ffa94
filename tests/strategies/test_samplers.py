"""Samplers, checked against imbalanced-learn's on random label arrays."""

from collections import Counter

import numpy as np
import pytest

from imbalance_lab.errors import ConfigError
from imbalance_lab.strategies import (
    SAMPLERS,
    ClassBalancedSampler,
    RandomOverSampler,
    RandomUnderSampler,
    check_sampling_strategy,
)


def random_labels(seed: int, num_classes: int) -> np.ndarray:
    """Labels with clearly different class sizes (between 5 and 120 per class), shuffled."""
    rng = np.random.default_rng(seed)
    sizes = rng.choice(np.arange(5, 121), size=num_classes, replace=False)
    return rng.permutation(np.repeat(np.arange(num_classes), sizes))


def counts_of(labels) -> dict:
    return {int(c): int(n) for c, n in sorted(Counter(np.asarray(labels).tolist()).items())}


def binary_ratio(labels, kind) -> float:
    """A float strategy that both libraries accept for these labels."""
    n_min, n_maj = sorted(np.bincount(labels))
    return (n_min / n_maj + 1) / 2 if kind == "under" else 0.75 * (1 + n_min / n_maj) / 2 + 0.25


def some_dict(labels, kind) -> dict:
    counts = np.bincount(labels)
    if kind == "under":
        return {0: int(counts[0]) // 2, 1: int(counts[1])}
    return {0: int(counts.max()) + 7, 1: int(counts[1]) + 3}


# Ours, and the imbalanced-learn module whose sampler of the same name is the reference.
SAMPLER_PAIRS = {
    "under": (RandomUnderSampler, "imblearn.under_sampling"),
    "over": (RandomOverSampler, "imblearn.over_sampling"),
}
CASES = [
    (kind, seed, num_classes, strategy)
    for kind in SAMPLER_PAIRS
    for seed in range(4)
    for num_classes, strategy in [(2, "float"), (2, "dict"), (2, "auto"), (3, "dict"), (5, "auto")]
]
# "minority" only makes sense for over-sampling, "majority" only for under-sampling.
CASES += [("under", 0, 4, name) for name in ("all", "not minority", "not majority", "majority")]
CASES += [("over", 0, 4, name) for name in ("all", "not minority", "not majority", "minority")]


@pytest.mark.parametrize(("kind", "seed", "num_classes", "strategy"), CASES)
def test_class_counts_match_imbalanced_learn(kind, seed, num_classes, strategy):
    ours, module = SAMPLER_PAIRS[kind]
    # Only the comparison needs imbalanced-learn; every other test here runs without it.
    reference = getattr(pytest.importorskip(module), ours.__name__)
    labels = random_labels(seed, num_classes)
    if strategy == "float":
        strategy = binary_ratio(labels, kind)
    elif strategy == "dict":
        strategy = some_dict(labels, kind)
    indices = ours(sampling_strategy=strategy, random_state=seed).fit_resample(labels)
    _, expected = reference(sampling_strategy=strategy, random_state=seed).fit_resample(
        np.arange(labels.size).reshape(-1, 1), labels
    )
    assert counts_of(labels[indices]) == counts_of(expected)


@pytest.mark.parametrize("name", ["downsample", "upsample"])
def test_indices_are_valid_and_deterministic_per_random_state(name):
    labels = random_labels(1, 4)
    first = SAMPLERS.get(name)(random_state=3).fit_resample(labels)
    assert first.dtype.kind == "i"
    assert ((first >= 0) & (first < labels.size)).all()
    assert np.array_equal(first, SAMPLERS.get(name)(random_state=3).fit_resample(labels))
    assert not np.array_equal(first, SAMPLERS.get(name)(random_state=4).fit_resample(labels))


def test_under_sampler_keeps_distinct_items_and_records_what_it_did():
    labels = random_labels(2, 3)
    sampler = RandomUnderSampler(sampling_strategy="all", random_state=0)
    indices = sampler.fit_resample(labels)
    assert np.unique(indices).size == indices.size
    assert np.array_equal(sampler.sample_indices_, indices)
    n_min = np.bincount(labels).min()
    assert sampler.sampling_strategy_ == {0: n_min, 1: n_min, 2: n_min}


def test_over_sampler_keeps_every_original_and_marks_the_copies():
    labels = random_labels(3, 3)
    sampler = RandomOverSampler(random_state=0)
    indices = sampler.fit_resample(labels)
    assert np.array_equal(indices[: labels.size], np.arange(labels.size))
    assert np.array_equal(sampler.repeated_mask_, np.arange(indices.size) >= labels.size)
    assert set(np.bincount(labels[indices])) == {np.bincount(labels).max()}


def test_sampling_strategy_resolves_to_target_counts():
    labels = np.array([0] * 10 + [1] * 40)
    assert check_sampling_strategy(0.5, labels, "under-sampling") == {1: 20}
    assert check_sampling_strategy(0.5, labels, "over-sampling") == {0: 20}
    assert check_sampling_strategy("auto", labels, "under-sampling") == {1: 10}
    assert check_sampling_strategy("auto", labels, "over-sampling") == {0: 40}
    assert check_sampling_strategy({0: 15}, labels, "over-sampling") == {0: 15}


def test_sampling_strategy_accepts_a_callable():
    labels = np.array([0] * 10 + [1] * 40)
    sampler = RandomUnderSampler(sampling_strategy=lambda y: {1: int((y == 0).sum())})
    assert np.bincount(labels[sampler.fit_resample(labels)]).tolist() == [10, 10]


@pytest.mark.parametrize(
    ("kind", "strategy", "message"),
    [
        ("under-sampling", "balanced", "sampling_strategy must be .*'auto'.*; got 'balanced'"),
        ("under-sampling", [1, 2], "sampling_strategy must be .*; got \\[1, 2\\]"),
        ("under-sampling", True, "sampling_strategy must be .*; got True"),
        ("under-sampling", 0.0, "float must be in \\(0, 1\\]; got 0.0"),
        ("over-sampling", 1.5, "float must be in \\(0, 1\\]; got 1.5"),
        ("under-sampling", 0.1, "under-sampling cannot add samples"),
        ("over-sampling", 0.1, "over-sampling cannot remove"),
        ("under-sampling", {7: 3}, "class 7, which is not in the labels"),
        ("under-sampling", {1: -1}, "whole numbers >= 0; got -1"),
        ("under-sampling", {1: 2.5}, "whole numbers >= 0; got 2.5"),
        ("under-sampling", {0: 11}, "asks for 11 samples of class 0, which has 10"),
        ("over-sampling", {1: 39}, "asks for 39 samples of class 1, which has 40"),
        ("under-sampling", "minority", "'minority' cannot be used for under-sampling"),
        ("over-sampling", "majority", "'majority' cannot be used for over-sampling"),
    ],
)
def test_bad_sampling_strategies_get_one_line_errors(kind, strategy, message):
    labels = np.array([0] * 10 + [1] * 40)
    with pytest.raises(ConfigError, match=message) as info:
        check_sampling_strategy(strategy, labels, kind)
    assert "\n" not in str(info.value)


def test_a_float_needs_two_classes():
    with pytest.raises(ConfigError, match="only with 2 classes, got 3"):
        RandomUnderSampler(sampling_strategy=0.5).fit_resample(random_labels(0, 3))


@pytest.mark.parametrize(
    ("labels", "message"),
    [(np.zeros((3, 2)), "1-D"), (np.array([]), "non-empty"), (np.zeros(5), "at least 2 classes")],
)
def test_bad_labels_get_one_line_errors(labels, message):
    with pytest.raises(ConfigError, match=message):
        RandomOverSampler().fit_resample(labels)


def test_init_only_stores_its_arguments():
    sampler = RandomUnderSampler(sampling_strategy="bogus", random_state="x")
    assert (sampler.sampling_strategy, sampler.random_state) == ("bogus", "x")
    with pytest.raises(ConfigError, match="random_state must be"):
        sampler.fit_resample([0, 1, 1])


def test_class_balanced_sampler_draws_classes_equally_and_anew_each_epoch():
    labels = np.array([0] * 900 + [1] * 90 + [2] * 10)
    sampler = ClassBalancedSampler(num_samples=30_000, random_state=0).fit(labels)
    epoch0, epoch1 = sampler.sample(0), sampler.sample(1)
    share = np.bincount(labels[epoch0], minlength=3) / epoch0.size
    assert np.allclose(share, 1 / 3, atol=0.02)
    assert not np.array_equal(epoch0, epoch1)
    again = ClassBalancedSampler(num_samples=30_000, random_state=0)
    assert np.array_equal(again.fit_resample(labels), epoch0)
    assert np.array_equal(again.sample(1), epoch1)
    assert np.allclose(sampler.weights_[[0, 900, 990]], [1 / 900, 1 / 90, 1 / 10])


def test_class_balanced_sampler_defaults_to_one_draw_per_item():
    labels = random_labels(0, 3)
    sampler = ClassBalancedSampler(replacement=False)
    indices = sampler.fit_resample(labels)
    assert indices.size == labels.size
    assert np.unique(indices).size == labels.size
    assert np.array_equal(sampler.sample(5), sampler.sample(5))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_samples": 0}, "num_samples must be None or an int >= 1; got 0"),
        ({"num_samples": 11, "replacement": False}, "num_samples=11 is more than the 10 items"),
        ({"random_state": -1}, "random_state must be None or an int >= 0; got -1"),
    ],
)
def test_bad_class_balanced_sampler_settings_get_one_line_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ClassBalancedSampler(**kwargs).fit(np.array([0] * 5 + [1] * 5))


def test_registry_names_the_three_samplers():
    assert set(SAMPLERS) == {"downsample", "upsample", "weighted-sampler"}
    for factory in (e.obj for e in SAMPLERS.entries()):
        assert factory(random_state=0).fit_resample(random_labels(0, 2)).ndim == 1
