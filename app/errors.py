"""The command line's errors: a problem the user can fix, and the one line that says it.

Every command module raises `UserError` from here and `bytes2beats.cli.main` prints it with
`error_line`, so that no command module needs the one that registers them all.
"""

from __future__ import annotations

import sys


class UserError(Exception):
    """A problem the user can fix: printed as one line, exit status 1."""


def error_line(command: str, message: object) -> str:
    """What a command says when it fails or stops: one line, naming the command."""
    return f"bytes2beats {command}: {message}"


def share_user_error_with_cli() -> None:
    """Make `bytes2beats.cli.UserError` this class while cli.py still defines its own, so that
    its main() catches what the other command modules raise (it looks the name up when an
    error comes). Does nothing once cli.py imports UserError from here."""
    cli = sys.modules.get("bytes2beats.cli")
    if cli is not None and getattr(cli, "UserError", UserError) is not UserError:
        cli.UserError = UserError
