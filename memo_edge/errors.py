"""User-facing errors: the CLI prints them as one line and exits with code 2."""

from __future__ import annotations


class MemoError(Exception):
    """Bad input or an unusable environment; message names the file/field and what was expected."""

    exit_code = 2


class PackError(MemoError):
    """A pack failed verification (tampered, incomplete, unknown format)."""
