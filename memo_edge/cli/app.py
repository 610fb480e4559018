"""The typer app and the error boundary: MemoError -> one line on stderr, exit code 2 (traceback with --debug)."""

from __future__ import annotations

import os
import sys
import warnings

import typer

app = typer.Typer(
    name="memo",
    help="memo-edge: put a corpus into a small MEMORY model and ask it offline.\n\n"
    "Pipeline: memo synthesize -> memo train -> memo export (or all three: memo build) -> memo ask | eval | serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(help="Pull and list MEMORY/EXECUTIVE base models (no model hub needed).", no_args_is_help=True)
app.add_typer(models_app, name="models")

_state = {"debug": False}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")):
    _state["debug"] = debug or bool(os.environ.get("MEMO_DEBUG"))


def _warn_line(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    from memo_edge.errors import MemoError

    warnings.showwarning = _warn_line
    try:
        rc = app(args=argv, standalone_mode=False)
        # Non-standalone typer *returns* exit codes instead of exiting: Ctrl-C comes back as 130.
        if isinstance(rc, int) and rc:
            if rc == 130:
                print("interrupted", file=sys.stderr)
            sys.exit(rc)
    except MemoError as e:
        if _state["debug"]:
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except OSError as e:
        # A path we could not create, read or write (permissions, missing parent, full disk): name it, one line.
        if _state["debug"] or e.filename is None:
            raise
        print(f"error: {e.filename}: {e.strerror or e}", file=sys.stderr)
        sys.exit(2)
    except Exception as e:  # click usage errors are handled by click itself
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(2)
        if isinstance(e, click.exceptions.Exit):
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(1)
        raise
