"""The command line's errors: a problem the user can fix, and the one line that says it.

Every command module raises `UserError` from here and `bytes2beats.cli.main` prints it with
`error_line`, so that no command module needs the one that registers them all.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix: printed as one line, exit status 1."""


def error_line(command: str, message: object) -> str:
    """What a command says when it fails or stops: one line, naming the command."""
    return f"bytes2beats {command}: {message}"
