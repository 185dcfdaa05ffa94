"""The Clopper-Pearson interval: its coverage on simulated counts, its closed forms at the
ends, and the fewest positives that narrow it, checked against scipy's Beta quantiles."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import beta

from imbalance_lab.evaluation.intervals import (
    CONFIDENCE,
    clopper_pearson,
    half_width,
    positives_for,
)

ALPHA = 1 - CONFIDENCE


@pytest.mark.parametrize("rate", [0.5, 0.9, 0.97])
@pytest.mark.parametrize("n", [20, 40, 120])
def test_the_interval_covers_the_true_rate_at_least_95_percent_of_the_time(rate, n):
    # 1,000 binomial draws; Clopper-Pearson is conservative (coverage >= 95% for every rate
    # and n), so only the Monte Carlo error, sd ~ 0.007 at 95%, is allowed below 0.95.
    k = np.random.default_rng(0).binomial(n, rate, 1000)
    bounds = {int(v): clopper_pearson(int(v), n) for v in np.unique(k)}
    covered = np.mean([bounds[v][0] <= rate <= bounds[v][1] for v in k])
    assert covered >= CONFIDENCE - 0.02


@pytest.mark.parametrize("n", [1, 5, 40, 300])
def test_the_ends_have_closed_forms(n):
    # At k = 0 the upper bound solves (1 - p)^n = alpha/2; at k = n the lower one p^n = alpha/2.
    assert clopper_pearson(0, n) == pytest.approx((0.0, 1 - (ALPHA / 2) ** (1 / n)), rel=1e-9)
    assert clopper_pearson(n, n) == pytest.approx(((ALPHA / 2) ** (1 / n), 1.0), rel=1e-9)


@pytest.mark.parametrize(("k", "n"), [(1, 2), (3, 10), (37, 40), (110, 120), (500, 1000)])
def test_the_interval_is_the_pair_of_beta_quantiles(k, n):
    reference = (beta.ppf(ALPHA / 2, k, n - k + 1), beta.ppf(1 - ALPHA / 2, k + 1, n - k))
    assert clopper_pearson(k, n) == pytest.approx(reference, rel=1e-9)
    assert clopper_pearson(k, n, confidence=0.8)[1] < reference[1]  # less confident: narrower


def _reference_half_widths(rate, n):
    """The half-width at k = round(rate * n) for every n, straight from scipy.stats.beta."""
    k = np.rint(rate * n)
    low = np.where(k == 0, 0.0, beta.ppf(ALPHA / 2, np.maximum(k, 1), n - k + 1))
    high = np.where(k == n, 1.0, beta.ppf(1 - ALPHA / 2, k + 1, np.maximum(n - k, 1)))
    return np.maximum(k / n - low, high - k / n)


@pytest.mark.parametrize("rate", [0.5, 0.908, 0.97, 1.0])
@pytest.mark.parametrize("width", [0.02, 0.05])
def test_positives_for_is_the_fewest_that_narrow_the_interval(rate, width):
    needed = positives_for(width, rate)
    widths = _reference_half_widths(rate, np.arange(1, needed + 1))
    assert widths[-1] <= width + 1e-12  # n passes
    assert (widths[:-1] > width).all()  # and no smaller n does, n - 1 included


def test_positives_for_grows_as_the_interval_narrows_and_the_rate_nears_one_half():
    by_width = [positives_for(w, 0.9) for w in (0.1, 0.05, 0.03, 0.02, 0.01)]
    by_rate = [positives_for(0.02, r) for r in (1.0, 0.97, 0.9, 0.7, 0.5)]
    assert by_width == sorted(by_width) and len(set(by_width)) == len(by_width)
    assert by_rate == sorted(by_rate) and len(set(by_rate)) == len(by_rate)


def test_half_width_is_the_wider_side():
    low, high = clopper_pearson(37, 40)
    assert half_width(37, 40) == pytest.approx(max(37 / 40 - low, high - 37 / 40))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: clopper_pearson(5, 4), "0 <= k <= n"),
        (lambda: clopper_pearson(0, 0), "n >= 1"),
        (lambda: clopper_pearson(1.5, 4), "integers"),
        (lambda: clopper_pearson(1, 4, confidence=1.0), "confidence must be in"),
        (lambda: positives_for(0.0, 0.5), "half_width must be in"),
        (lambda: positives_for(0.02, 1.5), "rate must be in"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
