"""Writing a file whole or not at all: written beside, flushed to the disk, then renamed.

Everything the engine saves (MIDI files, phrase packs, models, checkpoints, sample sheets,
caches, job files) goes through `atomic_write`."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: str | os.PathLike, save: Callable[[BinaryIO], object]) -> Path:
    """Write the file at `path` whole or not at all; returns the path written.

    `save(handle)` writes the bytes to a hidden part file beside `path` (".name.PID.RANDOM.part"),
    which is flushed and synced to the disk (where a disk that defers allocation says it is
    full) and then takes the name. What was at `path` stays whole until then, and a file
    replaced keeps its permissions. A symbolic link is written through, as `cp` does. Any
    failure or Ctrl-C removes the part file: an OSError when the file cannot be written, the
    writer's own error passes through.
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    # Not mkstemp: its files are private (0600), and what is written here is for sharing (a
    # MIDI file for the DAW, a sampler on another account); os.open's mode passes through
    # the user's umask.
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError:
        raise
    except BaseException:  # Ctrl-C just after the file was made
        _remove(tmp)
        raise
    try:
        with os.fdopen(fd, "wb") as handle:
            if path.is_file():
                os.chmod(tmp, path.stat().st_mode & 0o7777)
            save(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk, Ctrl-C, or a writer's own error: no part file stays
        _remove(tmp)
        raise
    return path


def _remove(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)
