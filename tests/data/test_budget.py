"""Memory budget: sizes, the default, and memory-or-stream."""

import os

import pytest

from imbalance_lab.data.budget import (
    available_memory,
    batch_bytes,
    choose_mode,
    default_budget,
    parse_size,
)
from imbalance_lab.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "size"),
    [("512MB", 512_000_000), ("8GB", 8_000_000_000), ("1.5GiB", 1_610_612_736), ("100", 100),
     ("2 kib", 2048), ("0.5TB", 500_000_000_000), (4096, 4096), ("64M", 64_000_000)],
)  # fmt: skip
def test_sizes_are_parsed_in_decimal_and_binary_units(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1GB", "0", "0MB", "5XB", "1.5.2GB", "GB", True])
def test_bad_sizes_get_one_line_errors(text):
    with pytest.raises(ConfigError, match="must be a size") as info:
        parse_size(text)
    assert "\n" not in str(info.value)


def test_the_default_budget_is_half_the_available_memory():
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < available_memory() <= total
    assert abs(default_budget() - available_memory() / 2) < 0.05 * total  # memory moves meanwhile


def test_auto_keeps_what_fits_in_memory_and_streams_the_rest():
    assert choose_mode(10**9, 2 * 10**9) == "memory"
    assert choose_mode(3 * 10**9, 2 * 10**9) == "stream"
    assert choose_mode(3 * 10**9, 2 * 10**9, "memory") == "memory"
    assert choose_mode(10, 2 * 10**9, "stream") == "stream"


def test_a_budget_below_one_batch_is_one_line():
    batch = batch_bytes(256, (3, 224, 224))
    assert batch == 256 * 3 * 224 * 224 * 5
    with pytest.raises(
        ConfigError, match="--memory-budget 1.0MB cannot hold one batch \\(192.7MB"
    ) as info:
        choose_mode(10**9, 10**6, batch=batch)
    assert "\n" not in str(info.value)
    with pytest.raises(
        ConfigError, match="--data-mode must be one of auto, memory, stream, got 'disk'"
    ):
        choose_mode(1, 2, "disk")
