"""Samplers, checked against imbalanced-learn's on random label arrays."""

from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

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


# --- imbalanced-learn's own call: fit_resample(X, y) -> (X_res, y_res) ----------------------


def pair(kind: str):
    """(our sampler, imbalanced-learn's of the same name); skips without imbalanced-learn."""
    ours, module = SAMPLER_PAIRS[kind]
    return ours, getattr(pytest.importorskip(module), ours.__name__)


@pytest.mark.parametrize(("kind", "seed", "num_classes", "strategy"), CASES)
def test_fit_resample_x_y_returns_the_rows_imbalanced_learn_returns(
    kind, seed, num_classes, strategy
):
    ours, reference = pair(kind)
    labels = random_labels(seed, num_classes)
    if strategy == "float":
        strategy = binary_ratio(labels, kind)
    elif strategy == "dict":
        strategy = some_dict(labels, kind)
    X = np.random.default_rng(seed).normal(size=(labels.size, 5))
    sampler = ours(sampling_strategy=strategy, random_state=seed)
    X_res, y_res = sampler.fit_resample(X, labels)
    ref = reference(sampling_strategy=strategy, random_state=seed)
    X_ref, y_ref = ref.fit_resample(X, labels)
    assert np.array_equal(X_res, X_ref) and np.array_equal(y_res, y_ref)
    assert np.array_equal(sampler.sample_indices_, ref.sample_indices_)
    # The index call draws the same rows as the (X, y) call.
    assert np.array_equal(
        ours(sampling_strategy=strategy, random_state=seed).fit_resample(labels),
        ref.sample_indices_,
    )


@pytest.mark.parametrize("kind", ["under", "over"])
def test_a_random_state_object_draws_what_imbalanced_learn_draws_with_it(kind):
    ours, reference = pair(kind)
    labels = random_labels(5, 3)
    X = np.arange(labels.size * 2).reshape(-1, 2)
    expected, _ = reference(random_state=np.random.RandomState(7)).fit_resample(X, labels)
    got, _ = ours(random_state=np.random.RandomState(7)).fit_resample(X, labels)
    assert np.array_equal(got, expected)
    # A Generator lends its bit generator: the same seed, the same rows each time.
    first, _ = ours(random_state=np.random.default_rng(3)).fit_resample(X, labels)
    again, _ = ours(random_state=np.random.default_rng(3)).fit_resample(X, labels)
    assert np.array_equal(first, again)


@pytest.mark.parametrize("kind", ["under", "over"])
def test_image_arrays_and_tensors_are_resampled_like_their_flattened_rows(kind):
    ours, reference = pair(kind)
    labels = random_labels(2, 3)
    images = np.random.default_rng(0).integers(0, 256, (labels.size, 3, 32, 32), dtype=np.uint8)
    flat_ref, y_ref = reference(random_state=1).fit_resample(
        images.reshape(labels.size, -1), labels
    )
    expected = flat_ref.reshape(-1, 3, 32, 32)

    X_res, y_res = ours(random_state=1).fit_resample(images, labels)
    assert isinstance(X_res, np.ndarray) and X_res.shape == expected.shape
    assert np.array_equal(X_res, expected) and np.array_equal(y_res, y_ref)

    X_t, y_t = ours(random_state=1).fit_resample(torch.from_numpy(images), torch.from_numpy(labels))
    assert isinstance(X_t, torch.Tensor) and isinstance(y_t, torch.Tensor)
    assert torch.equal(X_t, torch.from_numpy(expected)) and torch.equal(
        y_t, torch.from_numpy(y_ref)
    )


def test_x_and_y_of_different_lengths_get_a_one_line_error():
    with pytest.raises(ConfigError, match="X has 9 rows but y has 10 labels"):
        RandomOverSampler().fit_resample(np.zeros((9, 2)), np.array([0] * 5 + [1] * 5))


# --- torch.utils.data.Sampler: DataLoader, set_epoch, DDP sharding ----------------------------


def test_a_users_own_dataloader_with_class_balanced_sampler_yields_balanced_batches():
    labels = torch.tensor([0] * 900 + [1] * 90 + [2] * 10)
    dataset = TensorDataset(torch.arange(labels.numel()), labels)
    sampler = ClassBalancedSampler(labels, num_samples=3000, random_state=0)
    batches = [y for _, y in DataLoader(dataset, batch_size=60, sampler=sampler)]
    assert sum(len(y) for y in batches) == 3000 == len(sampler)
    counts = torch.bincount(torch.cat(batches), minlength=3)
    # Each class count is Binomial(3000, 1/3): mean 1000, sd 25.8; 5 sd fails once in 10^6 runs.
    assert (counts - 1000).abs().max() < 5 * 25.8, counts
    # Every batch of 60 holds the 10-image class (P(none) = (2/3)^60 < 10^-10 per batch).
    assert all((y == 2).any() for y in batches)
    # The same DataLoader shuffling the data instead sees the 1 % class ~1 % of the time.
    plain = torch.cat([y for _, y in DataLoader(dataset, batch_size=60, shuffle=True)])
    assert torch.bincount(plain, minlength=3)[2] == 10


@pytest.mark.parametrize(
    "make",
    [
        lambda y: ClassBalancedSampler(y, random_state=3),
        lambda y: RandomOverSampler(y, random_state=3),
        lambda y: RandomUnderSampler(y, random_state=3),
    ],
)
def test_set_epoch_makes_each_epoch_a_pure_function_of_seed_and_epoch(make):
    labels = random_labels(4, 3)
    run = make(labels)
    epochs = []
    for epoch in range(4):
        run.set_epoch(epoch)
        epochs.append(list(run))
    assert all(epochs[i] != epochs[i + 1] for i in range(3))  # a fresh order every epoch
    assert sorted(epochs[0]) == sorted(epochs[1]) or isinstance(run, ClassBalancedSampler)
    resumed = make(labels)  # a new process resuming at epoch 2
    resumed.set_epoch(2)
    assert list(resumed) == epochs[2]
    assert list(resumed) == epochs[2]  # iterating again without set_epoch repeats the epoch


@pytest.mark.parametrize("replicas", [2, 3])
@pytest.mark.parametrize(
    "make",
    [
        lambda y, **kw: ClassBalancedSampler(y, num_samples=301, random_state=5, **kw),
        lambda y, **kw: RandomOverSampler(
            y, sampling_strategy={1: 60, 2: 30}, random_state=5, **kw
        ),
        lambda y, **kw: RandomUnderSampler(y, sampling_strategy={0: 50}, random_state=5, **kw),
    ],
)
def test_the_ranks_shards_together_are_the_single_process_draw(make, replicas):
    labels = np.array([0] * 157 + [1] * 41 + [2] * 12)  # draws of 301, 247 and 103 items
    single = make(labels, num_replicas=1, rank=0)
    single.set_epoch(1)
    draw = np.array(list(single))
    n = draw.size
    assert n % 2 and n % 3  # so that padding and dropping matter

    for even in ("none", "pad", "drop"):
        shards = []
        for rank in range(replicas):
            sampler = make(labels, num_replicas=replicas, rank=rank, even=even)
            sampler.set_epoch(1)
            shards.append(np.array(list(sampler)))
            assert len(sampler) == shards[-1].size
        union = np.sort(np.concatenate(shards))
        if even == "none":  # exactly the single-process draw; sizes differ by at most one
            assert np.array_equal(union, np.sort(draw))
            assert max(map(len, shards)) - min(map(len, shards)) <= 1
        elif even == "pad":  # DistributedSampler's default: the draw plus its first items again
            pad = -n % replicas
            assert np.array_equal(union, np.sort(np.r_[draw, draw[:pad]]))
            assert {len(s) for s in shards} == {-(-n // replicas)}
        else:
            assert np.array_equal(union, np.sort(draw[: n - n % replicas]))
            assert {len(s) for s in shards} == {n // replicas}


def test_sampler_settings_and_missing_labels_get_one_line_errors():
    labels = np.array([0] * 5 + [1] * 5)
    with pytest.raises(ConfigError, match=r"rank must be an int in \[0, 1\]; got 2"):
        list(RandomOverSampler(labels, num_replicas=2, rank=2))
    with pytest.raises(ConfigError, match="num_replicas must be an int >= 1; got 0"):
        len(ClassBalancedSampler(labels, num_replicas=0, rank=0))
    with pytest.raises(ConfigError, match="even must be one of pad, drop, none; got 'spread'"):
        list(RandomUnderSampler(labels, even="spread"))
    with pytest.raises(ConfigError, match="epoch must be an int >= 0; got -1"):
        RandomUnderSampler(labels).set_epoch(-1)
    with pytest.raises(RuntimeError, match=r"needs labels: pass them first"):
        list(RandomOverSampler())


def test_repr_shows_the_settings_not_the_labels():
    text = repr(RandomOverSampler(np.arange(1000) % 2, random_state=0))
    assert text.startswith(
        "RandomOverSampler(sampling_strategy='auto', random_state=0, shuffle=True"
    )
    assert "999" not in text
