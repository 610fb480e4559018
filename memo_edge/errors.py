"""User-facing errors: the CLI prints them as one line and exits with code 2."""

from __future__ import annotations


class MemoError(Exception):
    """Bad input or an unusable environment; message names the file/field and what was expected."""

    exit_code = 2


class PackError(MemoError):
    """A pack failed verification (tampered, incomplete, unsigned where a signature is required, unknown format)."""


class ExecutiveError(MemoError):
    """The EXECUTIVE failed (unreachable, or no usable reply) and the protocol could only fall back.

    `answer` is the protocol's fallback Answer (status "fallback", `error` set): a caller that wants it anyway
    can use it, but cannot mistake it for a real answer. The CLI exits with code 3 for it.
    """

    exit_code = 3

    def __init__(self, message: str, answer=None):
        super().__init__(message)
        self.answer = answer


def field_error(e, default: str = "<record>") -> tuple[str, str]:
    """(dotted field name, message) of a pydantic ValidationError's first error, for one-line messages."""
    err = e.errors()[0]
    field = ".".join(str(x) for x in err["loc"]) or default
    return field, str(err["msg"]).removeprefix("Value error, ")
