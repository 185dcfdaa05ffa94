"""Samplers that resample *indices*, not pixels, in imbalanced-learn's style and torch's.

Every sampler has the same small API: ``__init__`` takes the labels (optional) and
keyword-only arguments and only stores them; ``fit_resample(labels)`` validates its
input, then calls ``_fit_resample``; what it learned ends with ``_``
(``sampling_strategy_``, ``sample_indices_``). Returning indices means a sampler
works with any dataset and a subset costs nothing: ``images[indices]``,
``labels[indices]``. ``fit_resample(X, y)`` is imbalanced-learn's call and returns
its rows, also for image arrays and torch tensors.

Every sampler is also a ``torch.utils.data.Sampler``: ``DataLoader(dataset,
sampler=ClassBalancedSampler(labels, random_state=0))`` draws class-balanced
batches, ``set_epoch`` makes each epoch's draw reproducible, and under DDP each
rank iterates its share of the same draw (:func:`shard`).

``check_sampling_strategy`` is the one place where every spelling of "how many of
each class" becomes a ``{class: target_count}`` dict. It keeps imbalanced-learn's
meaning of each spelling, with one difference: for over-sampling imbalanced-learn
stores how many samples to *add*, here every sampler stores the count *after*.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from numbers import Integral, Real

import numpy as np
import torch
from torch.utils.data import Sampler

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
    # In label order, as imbalanced-learn's: the samplers draw class by class in this order.
    return dict(sorted(_resolve(sampling_strategy, labels, kind).items()))


def _resolve(sampling_strategy, labels, kind: str) -> dict:
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
    labels = _as_numpy(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ConfigError(f"labels must be a non-empty 1-D array, got shape {labels.shape}")
    return labels


def _as_numpy(data) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().numpy()
    return np.asarray(data)


def _check_random_state(random_state) -> None:
    ok = random_state is None or isinstance(
        random_state, np.random.Generator | np.random.RandomState
    )
    ok = ok or (isinstance(random_state, Integral) and not isinstance(random_state, bool))
    if not ok or (isinstance(random_state, Integral) and random_state < 0):
        raise ConfigError(
            "random_state must be None, an int >= 0, a numpy Generator or RandomState; "
            f"got {random_state!r}"
        )


def _legacy_rng(random_state) -> np.random.RandomState:
    """The RandomState imbalanced-learn would draw from, so both draw the same rows.

    None is NumPy's global RandomState, as in scikit-learn; a Generator lends its bit
    generator, so drawing advances the caller's Generator.
    """
    if isinstance(random_state, np.random.Generator):
        return np.random.RandomState(random_state.bit_generator)
    # Imported here: scikit-learn costs a training process ~170 MB of memory to import.
    from sklearn.utils import check_random_state

    return check_random_state(random_state)


def _num_rows(data) -> int:
    shape = getattr(data, "shape", None)
    if shape is not None:
        if len(shape) == 0:
            raise ConfigError("X must hold one row per label; got a scalar")
        return int(shape[0])
    return len(data)


def take_rows(data, indices: np.ndarray):
    """``data[indices]`` along the first axis, in the type of ``data``.

    NumPy arrays of any shape, torch tensors (on their device), SciPy sparse
    matrices and pandas objects (by position) keep their type; anything else
    becomes a NumPy array.
    """
    if isinstance(data, torch.Tensor):
        return data[torch.as_tensor(indices, dtype=torch.long, device=data.device)]
    if hasattr(data, "iloc"):
        return data.iloc[indices]
    if hasattr(data, "shape") and hasattr(data, "__getitem__"):
        return data[indices]
    return np.asarray(data)[indices]


# --- sharding one epoch's draw over DDP ranks --------------------------------------------

EVEN_MODES = ("pad", "drop", "none")


def distributed_defaults() -> tuple[int, int]:
    """(world size, rank) of the initialised torch.distributed group, else (1, 0)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


def shard(draw: np.ndarray, num_replicas: int, rank: int, even: str = "pad") -> np.ndarray:
    """Rank ``rank``'s part of one epoch's ``draw``: every ``num_replicas``-th item from ``rank`` on.

    The ranks' parts are interleaved, as in ``torch.utils.data.DistributedSampler``,
    and together they are the draw, with ``even`` deciding what happens when its
    length n is not a multiple of the number of ranks R:

    - ``"pad"`` (DistributedSampler's default): the draw's first items are repeated
      until it fills R * ceil(n / R); the union over ranks is the draw plus those repeats;
    - ``"drop"`` (its ``drop_last=True``): the last n mod R items are left out;
    - ``"none"``: nothing is added or left out, so the union is exactly the draw, and
      ranks differ by at most one item: the training loop must then accept uneven
      inputs (``torch.distributed.algorithms.Join`` with DDP).
    """
    n = draw.size
    if even == "pad" and n % num_replicas:
        padded = -(-n // num_replicas) * num_replicas
        draw = np.concatenate([draw, np.resize(draw, padded - n)])  # np.resize repeats the start
    elif even == "drop":
        draw = draw[: n - n % num_replicas]
    return draw[rank::num_replicas]


class EpochSampler(Sampler[int]):
    """The ``torch.utils.data.Sampler`` side every sampler here shares.

    Iterating yields this rank's indices for the current epoch; ``set_epoch`` picks the
    epoch, so a resumed run (or every rank of a DDP job) draws exactly what an
    uninterrupted single run draws: each epoch's draw is a pure function of the
    seed and the epoch. ``num_replicas`` and ``rank`` default to the initialised
    ``torch.distributed`` group (1 and 0 without one); see :func:`shard` for ``even``.
    Subclasses write ``_fit(labels)`` and ``_epoch_draw(epoch) -> (indices, repeated)``.
    """

    epoch = 0  # set_epoch's value; a class default, so that __init__ only stores arguments

    def set_epoch(self, epoch: int) -> None:
        if not isinstance(epoch, Integral) or isinstance(epoch, bool) or epoch < 0:
            raise ConfigError(f"epoch must be an int >= 0; got {epoch!r}")
        self.epoch = int(epoch)

    def _replicas(self) -> tuple[int, int]:
        world, rank = distributed_defaults()
        replicas = world if self.num_replicas is None else self.num_replicas
        rank = rank if self.rank is None else self.rank
        if not isinstance(replicas, Integral) or isinstance(replicas, bool) or replicas < 1:
            raise ConfigError(f"num_replicas must be an int >= 1; got {self.num_replicas!r}")
        if not isinstance(rank, Integral) or isinstance(rank, bool) or not 0 <= rank < replicas:
            raise ConfigError(f"rank must be an int in [0, {replicas - 1}]; got {rank!r}")
        if self.even not in EVEN_MODES:
            raise ConfigError(f"even must be one of {', '.join(EVEN_MODES)}; got {self.even!r}")
        return int(replicas), int(rank)

    def _fitted(self) -> bool:
        raise NotImplementedError

    def _ensure_fitted(self) -> None:
        if self._fitted():
            return
        if self.labels is None:
            raise RuntimeError(
                f"{type(self).__name__} needs labels: pass them first, "
                f"{type(self).__name__}(labels, ...), or call fit_resample(labels)"
            )
        self._fit(self.labels)

    def epoch_indices(self, epoch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(this rank's indices, which of them are repeated copies) for ``epoch`` (default: the current)."""
        self._ensure_fitted()
        if epoch is not None:
            self.set_epoch(epoch)
        replicas, rank = self._replicas()
        indices, repeated = self._epoch_draw(self.epoch)
        positions = shard(np.arange(indices.size), replicas, rank, self.even)
        return indices[positions], repeated[positions]

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices()[0].tolist())

    def __len__(self) -> int:
        self._ensure_fitted()
        replicas, rank = self._replicas()
        n = self._draw_size()
        return shard(np.arange(n), replicas, rank, self.even).size

    def _epoch_seed(self, rng: np.random.RandomState) -> int:
        """The seed of the per-epoch draws: random_state itself when an int, else one draw of ``rng``."""
        if isinstance(self.random_state, Integral):
            return int(self.random_state)
        return int(rng.randint(2**31 - 1))

    def __repr__(self) -> str:
        names = [
            n
            for n in inspect.signature(type(self).__init__).parameters
            if n not in ("self", "labels")
        ]
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{type(self).__name__}({args})"


class BaseSampler(EpochSampler):
    """``fit_resample(labels) -> indices`` or ``fit_resample(X, y) -> (X_res, y_res)``.

    The indices are those imbalanced-learn's sampler of the same name keeps in
    ``sample_indices_`` for the same ``random_state`` (an int, a RandomState, or None
    for NumPy's global one), so ``fit_resample(X, y)`` returns the same rows in the
    same order. As a torch ``Sampler`` it yields the resampled indices in a fresh
    order every epoch (``shuffle=True``), sharded over DDP ranks. Subclasses write
    ``_fit_resample(labels, rng)``.
    """

    _kind: str = UNDER

    def __init__(
        self, labels=None, *, sampling_strategy="auto", random_state=None, shuffle: bool = True,
        num_replicas: int | None = None, rank: int | None = None, even: str = "pad",
    ):  # fmt: skip
        self.labels = labels
        self.sampling_strategy = sampling_strategy
        self.random_state = random_state
        self.shuffle = shuffle
        self.num_replicas = num_replicas
        self.rank = rank
        self.even = even

    def fit_resample(self, X, y=None):
        """With only labels: the indices to keep. With ``(X, y)``: the rows of both, in their types.

        ``X`` may be a 2-D array as in imbalanced-learn, an image array
        ``(n, C, H, W)`` or a torch tensor (returned as a tensor on its device).
        """
        if y is None:
            return self._fit(X)
        labels = _check_labels(y)
        rows = _num_rows(X)
        if rows != labels.size:
            raise ConfigError(
                f"X has {rows} rows but y has {labels.size} labels; give one label per row"
            )
        indices = self._fit(labels)
        return take_rows(X, indices), take_rows(y, indices)

    def _fit(self, labels) -> np.ndarray:
        labels = _check_labels(labels)
        _check_random_state(self.random_state)
        self.sampling_strategy_ = check_sampling_strategy(
            self.sampling_strategy, labels, self._kind
        )
        rng = _legacy_rng(self.random_state)
        self.sample_indices_ = self._fit_resample(labels, rng)
        self.seed_ = self._epoch_seed(rng)
        return self.sample_indices_

    def _fit_resample(self, labels: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
        raise NotImplementedError

    def _fitted(self) -> bool:
        return hasattr(self, "sample_indices_")

    def _repeated(self) -> np.ndarray:
        return np.zeros(self.sample_indices_.size, dtype=bool)

    def _draw_size(self) -> int:
        return self.sample_indices_.size

    def _epoch_draw(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        order = np.arange(self.sample_indices_.size)
        if self.shuffle:
            order = np.random.default_rng([self.seed_, epoch]).permutation(order)
        return self.sample_indices_[order], self._repeated()[order]


class RandomUnderSampler(BaseSampler):
    """Keep a random subset of each class to resample, drawn without replacement.

    As in imbalanced-learn, the kept indices come grouped by class in label order,
    each class's in the order drawn; classes not resampled keep all theirs, in order.
    """

    _kind = UNDER

    def _fit_resample(self, labels, rng):
        kept = []
        for c in np.unique(labels):
            members = np.flatnonzero(labels == c)
            if c in self.sampling_strategy_:
                # range(), not the members: the same draws as imbalanced-learn's.
                members = members[
                    rng.choice(range(members.size), size=self.sampling_strategy_[c], replace=False)
                ]
            kept.append(members)
        return np.concatenate(kept).astype(np.int64)


class RandomOverSampler(BaseSampler):
    """Keep every item and add random repeats (with replacement) of each class to grow.

    The originals come first, in order, then the repeats class by class in label
    order, as in imbalanced-learn; ``repeated_mask_`` is True for the repeats, so
    augmentation can be limited to the copies.
    """

    _kind = OVER

    def _fit_resample(self, labels, rng):
        repeats = [np.empty(0, dtype=np.int64)]
        for c, n in self.sampling_strategy_.items():  # in label order
            members = np.flatnonzero(labels == c)
            repeats.append(rng.choice(members, size=n - members.size, replace=True))
        repeats = np.concatenate(repeats).astype(np.int64)
        self.repeated_mask_ = np.r_[np.zeros(labels.size, bool), np.ones(repeats.size, bool)]
        return np.r_[np.arange(labels.size, dtype=np.int64), repeats]

    def _repeated(self) -> np.ndarray:
        return self.repeated_mask_


class ClassBalancedSampler(EpochSampler):
    """Draw a fresh class-balanced set of indices every epoch.

    Each item has weight 1 / n_c (its class count), so every class is drawn equally
    often in expectation, as with ``torch.utils.data.WeightedRandomSampler`` fed the
    same weights. ``sample(epoch)`` is the whole epoch's draw, a pure function of
    (random_state, epoch), so a resumed run draws the same epochs again; iterating
    yields this rank's share of it (see :class:`EpochSampler`). With
    ``random_state=None`` a seed is picked once at ``fit``.
    """

    def __init__(
        self, labels=None, *, num_samples: int | None = None, replacement: bool = True,
        random_state=None, num_replicas: int | None = None, rank: int | None = None,
        even: str = "pad",
    ):  # fmt: skip
        self.labels = labels
        self.num_samples = num_samples
        self.replacement = replacement
        self.random_state = random_state
        self.num_replicas = num_replicas
        self.rank = rank
        self.even = even

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
        """The whole epoch's draw (every rank's share together)."""
        if not hasattr(self, "weights_"):
            raise RuntimeError("call fit(labels) before sample(epoch)")
        if not isinstance(epoch, Integral) or epoch < 0:
            raise ConfigError(f"epoch must be an int >= 0; got {epoch!r}")
        rng = np.random.default_rng([self.seed_, int(epoch)])
        p = self.weights_ / self.weights_.sum()
        return rng.choice(p.size, size=self.num_samples_, replace=self.replacement, p=p)

    def fit_resample(self, X, y=None):
        """The epoch-0 draw: its indices, or with ``(X, y)`` the rows of both, in their types."""
        if y is None:
            self.sample_indices_ = self.fit(X).sample(0)
            return self.sample_indices_
        labels = _check_labels(y)
        rows = _num_rows(X)
        if rows != labels.size:
            raise ConfigError(
                f"X has {rows} rows but y has {labels.size} labels; give one label per row"
            )
        self.sample_indices_ = self.fit(labels).sample(0)
        return take_rows(X, self.sample_indices_), take_rows(y, self.sample_indices_)

    def _fit(self, labels) -> None:
        self.fit(labels)

    def _fitted(self) -> bool:
        return hasattr(self, "weights_")

    def _draw_size(self) -> int:
        return self.num_samples_

    def _epoch_draw(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        draw = self.sample(epoch)
        return draw, np.zeros(draw.size, dtype=bool)


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
