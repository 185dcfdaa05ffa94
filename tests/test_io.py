"""Atomic writes: the file's mode follows the process umask, as open() would make it."""

import os
import stat

import pytest

from imbalance_lab.io import atomic_write_bytes, atomic_write_json, atomic_write_text


@pytest.fixture
def umask():
    """Set the process umask for one test and restore the previous one after it."""
    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


@pytest.mark.parametrize(
    ("mask", "mode"),
    [(0o022, 0o644), (0o002, 0o664), (0o027, 0o640), (0o077, 0o600)],
    ids=["umask-022", "umask-002", "umask-027", "umask-077"],
)
@pytest.mark.parametrize("write", [atomic_write_bytes, atomic_write_text, atomic_write_json])
def test_a_written_file_has_the_mode_open_would_give_it(tmp_path, umask, mask, mode, write):
    umask(mask)
    path = tmp_path / "report.html"
    write(path, b"<html></html>" if write is atomic_write_bytes else "<html></html>")
    with open(tmp_path / "plain.html", "w"):  # the reference: what open() makes under the mask
        pass
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "plain.html").stat().st_mode) == mode


def test_rewriting_a_file_replaces_it_and_leaves_no_temporary_file(tmp_path, umask):
    umask(0o022)
    path = tmp_path / "result.json"
    atomic_write_json(path, {"a": 1})
    atomic_write_json(path, {"a": 2})
    assert path.read_text() == '{\n  "a": 2\n}\n'
    assert os.listdir(tmp_path) == ["result.json"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
