"""User-facing errors: the CLI prints them as one line and exits with code 2."""

from __future__ import annotations


class MemoError(Exception):
    """Bad input or an unusable environment; message names the file/field and what was expected."""

    exit_code = 2


class PackError(MemoError):
    """A pack failed verification (tampered, incomplete, unknown format)."""


def field_error(e, default: str = "<record>") -> tuple[str, str]:
    """(dotted field name, message) of a pydantic ValidationError's first error, for one-line messages."""
    err = e.errors()[0]
    field = ".".join(str(x) for x in err["loc"]) or default
    return field, str(err["msg"]).removeprefix("Value error, ")
