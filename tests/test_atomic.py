"""engine/atomic.py's one way to write a file whole, and engine/failures.py's one way to say
an error in a line."""

from __future__ import annotations

import os

import pytest
from bytes2beats.engine.atomic import atomic_write
from bytes2beats.engine.failures import one_line, os_reason


def test_a_file_is_written_whole_and_keeps_the_permissions_of_the_one_it_replaces(tmp_path):
    path = tmp_path / "x.bin"
    assert atomic_write(path, lambda handle: handle.write(b"one")) == path
    os.chmod(path, 0o640)
    atomic_write(path, lambda handle: handle.write(b"two"))
    assert path.read_bytes() == b"two" and path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), ValueError("the writer's own"),
                                   KeyboardInterrupt()])
def test_a_failure_leaves_the_old_file_whole_and_no_part_file(tmp_path, error):
    path = tmp_path / "x.bin"
    path.write_bytes(b"old")

    def save(handle):
        handle.write(b"half")
        raise error

    with pytest.raises(type(error)):
        atomic_write(path, save)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_a_symbolic_link_is_written_through(tmp_path):
    target, link = tmp_path / "target.bin", tmp_path / "link.bin"
    target.write_bytes(b"old")
    link.symlink_to(target)
    atomic_write(link, lambda handle: handle.write(b"new"))
    assert link.is_symlink() and target.read_bytes() == b"new"


def test_a_missing_folder_is_an_oserror(tmp_path):
    with pytest.raises(OSError):
        atomic_write(tmp_path / "nowhere" / "x.bin", lambda handle: handle.write(b"x"))


def test_an_error_in_one_line():
    assert one_line(ValueError("  first\nsecond ")) == "first"
    assert one_line(RuntimeError()) == "RuntimeError"
    assert one_line(ValueError("x" * 200), limit=120) == "x" * 120
    assert os_reason(OSError(28, "No space left on device", "/f")) == "No space left on device"
    assert os_reason(OSError("cannot write /f: full")) == "cannot write /f: full"
