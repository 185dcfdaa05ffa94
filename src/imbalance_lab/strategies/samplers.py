"""Samplers that resample *indices*, not pixels, in imbalanced-learn's style.

Every sampler has the same small API: ``__init__`` takes keyword-only arguments
and only stores them; ``fit_resample(labels)`` validates its input, then calls
``_fit_resample``; what it learned ends with ``_`` (``sampling_strategy_``,
``sample_indices_``). Returning indices means a sampler works with any dataset
and a subset costs nothing: ``images[indices]``, ``labels[indices]``.

``check_sampling_strategy`` is the one place where every spelling of "how many of
each class" becomes a ``{class: target_count}`` dict. It keeps imbalanced-learn's
meaning of each spelling, with one difference: for over-sampling imbalanced-learn
stores how many samples to *add*, here every sampler stores the count *after*.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np

from imbalance_lab.errors import ConfigError
from imbalance_lab.registry import Registry

UNDER, OVER = "under-sampling", "over-sampling"
STRATEGY_NAMES = ("auto", "majority", "minority", "not minority", "not majority", "all")
_ALLOWED = (
    "a float in (0, 1] (2 classes only), a dict {class: count}, a callable(labels) -> dict, "
    f"or one of {', '.join(repr(s) for s in STRATEGY_NAMES)}"
)


def _class_counts(labels: np.ndarray) -> dict:
    classes, counts = np.unique(labels, return_counts=True)
    return dict(zip(classes.tolist(), counts.tolist(), strict=True))


def check_sampling_strategy(sampling_strategy, labels, kind: str) -> dict:
    """``{class: number of samples after resampling}`` for every class to resample.

    ``kind`` is ``"under-sampling"`` or ``"over-sampling"``. Classes left out of the
    dict are kept as they are. The spellings mean what they mean in imbalanced-learn:

    - float, under-sampling: N_minority / N_majority_after, so the majority keeps
      ``int(n_minority / ratio)``; over-sampling: N_minority_after / N_majority, so
      each other class grows to ``int(ratio * n_majority)``. Two classes only.
    - dict ``{class: count}``: the target count of each listed class.
    - ``"auto"``: ``"not minority"`` for under-sampling, ``"not majority"`` for
      over-sampling; ``"all"``, ``"majority"``, ``"minority"``, ``"not ..."`` name the
      classes to bring to the minority's (under) or the majority's (over) count.
    """
    if kind not in (UNDER, OVER):
        raise ValueError(f"kind must be {UNDER!r} or {OVER!r}, got {kind!r}")
    counts = _class_counts(np.asarray(labels))
    if len(counts) < 2:
        raise ConfigError(f"resampling needs labels of at least 2 classes, got {list(counts)}")
    if callable(sampling_strategy):
        return _from_dict(sampling_strategy(np.asarray(labels)), counts, kind)
    if isinstance(sampling_strategy, str):
        return _from_name(sampling_strategy, counts, kind)
    if isinstance(sampling_strategy, Mapping):
        return _from_dict(sampling_strategy, counts, kind)
    if isinstance(sampling_strategy, Real) and not isinstance(sampling_strategy, bool):
        return _from_ratio(float(sampling_strategy), counts, kind)
    raise ConfigError(f"sampling_strategy must be {_ALLOWED}; got {sampling_strategy!r}")


def _from_name(name: str, counts: dict, kind: str) -> dict:
    if name not in STRATEGY_NAMES:
        raise ConfigError(f"sampling_strategy must be {_ALLOWED}; got {name!r}")
    if name == "auto":
        name = "not minority" if kind == UNDER else "not majority"
    # Ties go to the smallest class label, as in imbalanced-learn.
    minority = min(counts, key=counts.get)
    majority = max(counts, key=counts.get)
    if (kind, name) in ((UNDER, "minority"), (OVER, "majority")):
        raise ConfigError(
            f"sampling_strategy={name!r} cannot be used for {kind}: it would leave every class as it is"
        )
    chosen = {
        "majority": [majority],
        "minority": [minority],
        "not minority": [c for c in counts if c != minority],
        "not majority": [c for c in counts if c != majority],
        "all": list(counts),
    }[name]
    target = counts[minority] if kind == UNDER else counts[majority]
    return {c: target for c in chosen}


def _from_ratio(ratio: float, counts: dict, kind: str) -> dict:
    if len(counts) != 2:
        raise ConfigError(
            f"sampling_strategy can be a float only with 2 classes, got {len(counts)} classes; "
            f"use a dict {{class: count}}; got {ratio!r}"
        )
    if not 0 < ratio <= 1:
        raise ConfigError(f"sampling_strategy as a float must be in (0, 1]; got {ratio!r}")
    minority = min(counts, key=counts.get)
    majority = max(counts, key=counts.get)
    if kind == UNDER:
        target = {majority: int(counts[minority] / ratio)}
        if target[majority] > counts[majority]:
            raise ConfigError(
                f"sampling_strategy={ratio!r} would need {target[majority]} samples of class "
                f"{majority!r}, which has {counts[majority]}; under-sampling cannot add samples, "
                f"use a ratio of at least {counts[minority] / counts[majority]:.4g}"
            )
        return target
    # The same arithmetic as imbalanced-learn (samples to add, truncated), so counts agree exactly.
    added = {c: int(counts[majority] * ratio - n) for c, n in counts.items() if c != majority}
    if any(a < 0 for a in added.values()):
        raise ConfigError(
            f"sampling_strategy={ratio!r} would need to remove samples of the minority class; "
            f"over-sampling cannot remove, use a ratio of at least {counts[minority] / counts[majority]:.4g}"
        )
    return {c: counts[c] + a for c, a in added.items()}


def _from_dict(wanted, counts: dict, kind: str) -> dict:
    if not isinstance(wanted, Mapping):
        raise ConfigError(f"sampling_strategy must be {_ALLOWED}; got {wanted!r}")
    resolved = {}
    for c, n in wanted.items():
        if c not in counts:
            raise ConfigError(
                f"sampling_strategy names class {c!r}, which is not in the labels "
                f"({', '.join(map(repr, counts))}); got {dict(wanted)!r}"
            )
        if not isinstance(n, Integral) or isinstance(n, bool) or n < 0:
            raise ConfigError(
                f"sampling_strategy counts must be whole numbers >= 0; got {n!r} for class {c!r}"
            )
        if kind == UNDER and n > counts[c]:
            raise ConfigError(
                f"sampling_strategy asks for {n} samples of class {c!r}, which has {counts[c]}; "
                "under-sampling can only keep fewer"
            )
        if kind == OVER and n < counts[c]:
            raise ConfigError(
                f"sampling_strategy asks for {n} samples of class {c!r}, which has {counts[c]}; "
                "over-sampling can only add more"
            )
        resolved[c] = int(n)
    return resolved


def _check_labels(labels) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ConfigError(f"labels must be a non-empty 1-D array, got shape {labels.shape}")
    return labels


def _check_random_state(random_state) -> None:
    ok = random_state is None or isinstance(random_state, np.random.Generator)
    ok = ok or (isinstance(random_state, Integral) and not isinstance(random_state, bool))
    if not ok or (isinstance(random_state, Integral) and random_state < 0):
        raise ConfigError(
            f"random_state must be None, an int >= 0 or a numpy Generator; got {random_state!r}"
        )


class BaseSampler:
    """``fit_resample(labels) -> indices``; subclasses write ``_fit_resample``."""

    _kind: str = UNDER

    def __init__(self, *, sampling_strategy="auto", random_state=None):
        self.sampling_strategy = sampling_strategy
        self.random_state = random_state

    def fit_resample(self, labels) -> np.ndarray:
        labels = _check_labels(labels)
        _check_random_state(self.random_state)
        self.sampling_strategy_ = check_sampling_strategy(
            self.sampling_strategy, labels, self._kind
        )
        self.sample_indices_ = self._fit_resample(labels, np.random.default_rng(self.random_state))
        return self.sample_indices_

    def _fit_resample(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({args})"


class RandomUnderSampler(BaseSampler):
    """Keep a random subset of each class to resample, drawn without replacement.

    The indices come sorted, so the kept items keep their original order.
    """

    _kind = UNDER

    def _fit_resample(self, labels, rng):
        keep = np.ones(labels.size, dtype=bool)
        for c, n in self.sampling_strategy_.items():
            members = np.flatnonzero(labels == c)
            dropped = rng.choice(members, size=members.size - n, replace=False)
            keep[dropped] = False
        return np.flatnonzero(keep)


class RandomOverSampler(BaseSampler):
    """Keep every item and add random repeats (with replacement) of each class to grow.

    The originals come first, in order, then the repeats; ``repeated_mask_`` is True
    for the repeats, so augmentation can be limited to the copies.
    """

    _kind = OVER

    def _fit_resample(self, labels, rng):
        repeats = [np.empty(0, dtype=np.int64)]
        for c, n in self.sampling_strategy_.items():
            members = np.flatnonzero(labels == c)
            repeats.append(rng.choice(members, size=n - members.size, replace=True))
        repeats = np.concatenate(repeats).astype(np.int64)
        self.repeated_mask_ = np.r_[np.zeros(labels.size, bool), np.ones(repeats.size, bool)]
        return np.r_[np.arange(labels.size, dtype=np.int64), repeats]


class ClassBalancedSampler:
    """Draw a fresh class-balanced set of indices every epoch.

    Each item has weight 1 / n_c (its class count), so every class is drawn equally
    often in expectation, as with ``torch.utils.data.WeightedRandomSampler`` fed the
    same weights. ``sample(epoch)`` is a pure function of (random_state, epoch), so
    a resumed run draws the same epochs again. With ``random_state=None`` a seed is
    picked once at ``fit``.
    """

    def __init__(
        self, *, num_samples: int | None = None, replacement: bool = True, random_state=None
    ):
        self.num_samples = num_samples
        self.replacement = replacement
        self.random_state = random_state

    def fit(self, labels) -> ClassBalancedSampler:
        labels = _check_labels(labels)
        seed = self.random_state
        if not (
            seed is None
            or (isinstance(seed, Integral) and not isinstance(seed, bool) and seed >= 0)
        ):
            raise ConfigError(f"random_state must be None or an int >= 0; got {seed!r}")
        n = self.num_samples if self.num_samples is not None else labels.size
        if not isinstance(n, Integral) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"num_samples must be None or an int >= 1; got {self.num_samples!r}")
        if not self.replacement and n > labels.size:
            raise ConfigError(
                f"num_samples={n} is more than the {labels.size} items; "
                "without replacement it must be at most that, or pass replacement=True"
            )
        counts = _class_counts(labels)
        self.class_counts_ = counts
        inverse = {c: 1.0 / k for c, k in counts.items()}
        self.weights_ = np.array([inverse[c] for c in labels.tolist()])
        self.num_samples_ = int(n)
        # Expected draws per class; each epoch's actual counts vary around it.
        self.sampling_strategy_ = {c: self.num_samples_ / len(counts) for c in counts}
        self.seed_ = int(np.random.SeedSequence().entropy % 2**63) if seed is None else int(seed)
        return self

    def sample(self, epoch: int) -> np.ndarray:
        if not hasattr(self, "weights_"):
            raise RuntimeError("call fit(labels) before sample(epoch)")
        if not isinstance(epoch, Integral) or epoch < 0:
            raise ConfigError(f"epoch must be an int >= 0; got {epoch!r}")
        rng = np.random.default_rng([self.seed_, int(epoch)])
        p = self.weights_ / self.weights_.sum()
        return rng.choice(p.size, size=self.num_samples_, replace=self.replacement, p=p)

    def fit_resample(self, labels) -> np.ndarray:
        """The epoch-0 draw, for the same API as the other samplers."""
        self.sample_indices_ = self.fit(labels).sample(0)
        return self.sample_indices_

    def __repr__(self) -> str:
        return (
            f"ClassBalancedSampler(num_samples={self.num_samples!r}, "
            f"replacement={self.replacement!r}, random_state={self.random_state!r})"
        )


# The names the CLI and the config use; each entry builds a sampler from keyword arguments.
SAMPLERS = Registry("sampler")
SAMPLERS.add(
    "downsample", RandomUnderSampler, "drop random majority images down to the minority count"
)
SAMPLERS.add(
    "upsample", RandomOverSampler, "repeat random minority images up to the majority count"
)
SAMPLERS.add(
    "weighted-sampler", ClassBalancedSampler, "draw a class-balanced set afresh every epoch"
)
