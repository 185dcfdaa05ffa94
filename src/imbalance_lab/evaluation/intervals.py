"""How well a rate measured on a few items is known: the exact binomial interval.

A recall measured on n calibration positives (or a precision on n predicted positives)
is k successes out of n, so its uncertainty is that of a binomial proportion. The
Clopper-Pearson interval (Clopper & Pearson 1934, "The use of confidence or fiducial
limits illustrated in the case of the binomial", Biometrika 26) inverts two one-sided
binomial tests; its bounds are Beta quantiles,
low = Beta(alpha/2; k, n-k+1) and high = Beta(1-alpha/2; k+1, n-k),
with low = 0 at k = 0 and high = 1 at k = n. It covers the true rate with probability
at least 1 - alpha for every rate and every n (it is conservative, never short), which
is what a report that says "known to within ±h" must promise.
"""

from __future__ import annotations

import functools

import numpy as np

CONFIDENCE = 0.95  # of the interval reported with every operating point
NARROW = 0.02  # the half-width whose cost, in positives, a report gives
WIDE = 0.05  # a run whose interval is wider than ±WIDE warns


def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The exact two-sided interval for a binomial rate from ``k`` successes in ``n`` trials."""
    _check_counts(k, n)
    _check_confidence(confidence)
    low, high = _bounds(np.array([k]), np.array([n]), confidence)
    return float(low[0]), float(high[0])


def half_width(k: int, n: int, confidence: float = CONFIDENCE) -> float:
    """How far the interval reaches from k/n, on its wider side."""
    _check_counts(k, n)
    _check_confidence(confidence)
    return float(_half_widths(np.array([k]), np.array([n]), confidence)[0])


@functools.lru_cache(maxsize=4096)  # a threshold search asks again for the same few rates
def positives_for(half_width: float, rate: float, confidence: float = CONFIDENCE) -> int:
    """The fewest n whose interval around ``rate`` (k = round(rate * n)) lies within ±half_width.

    The half-width does not fall monotonically with n (k is rounded), so bisection could
    miss a smaller n that already passes. Instead every n from 1 is checked, in vectorised
    blocks; the first block reaches twice the normal approximation z^2 p (1-p) / h^2, so
    one block usually settles it (a few milliseconds for h = 0.02).
    """
    if not 0.0 < half_width < 1.0:
        raise ValueError(f"half_width must be in (0, 1), got {half_width!r}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate!r}")
    _check_confidence(confidence)
    from scipy.special import ndtri  # imported when needed: the CLI imports this module

    z = float(ndtri(1 - (1 - confidence) / 2))
    end = max(256, int(2 * z * z * rate * (1 - rate) / half_width**2))
    start = 1
    while True:
        n = np.arange(start, end + 1)
        k = np.rint(rate * n)  # round half to even, as Python's round()
        passing = np.flatnonzero(_half_widths(k, n, confidence) <= half_width)
        if passing.size:
            return int(n[passing[0]])
        start, end = end + 1, 2 * end


def _bounds(k: np.ndarray, n: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy.special import betaincinv  # the Beta quantile; imported when needed

    alpha = 1.0 - confidence
    k, n = k.astype(np.float64), n.astype(np.float64)
    # The Beta quantile is undefined at a zero shape parameter; those ends are 0 and 1.
    low = betaincinv(np.maximum(k, 1), n - k + 1, alpha / 2)
    high = betaincinv(k + 1, np.maximum(n - k, 1), 1 - alpha / 2)
    return np.where(k == 0, 0.0, low), np.where(k == n, 1.0, high)


def _half_widths(k: np.ndarray, n: np.ndarray, confidence: float) -> np.ndarray:
    low, high = _bounds(k, n, confidence)
    rate = k / n
    return np.maximum(rate - low, high - rate)


def _check_counts(k, n) -> None:
    if not (int(n) == n and n >= 1 and int(k) == k and 0 <= k <= n):
        raise ValueError(f"need integers 0 <= k <= n with n >= 1, got k={k!r}, n={n!r}")


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
