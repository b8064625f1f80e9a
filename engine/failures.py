"""Errors as one line for people: the one way the engine, the command line and the window
put an exception into a message."""

from __future__ import annotations


def one_line(error: BaseException, limit: int | None = None) -> str:
    """An exception's message as one line: its first line (at most `limit` characters), or
    its type's name when it says nothing."""
    lines = str(error).strip().splitlines()
    text = lines[0].strip() if lines else type(error).__name__
    return text[:limit] if limit else text


def os_reason(error: BaseException) -> str:
    """Why a file operation failed, in words: an OSError's reason from the system ("No space
    left on device", without the errno and the path), else the error's own message."""
    return getattr(error, "strerror", None) or str(error)
