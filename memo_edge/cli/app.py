"""The typer app and the one error boundary of the `memo` command.

Exit codes (README "Bad input"):
  0  success
  1  an unexpected error (a bug): one `error:` line that says to run with --debug for the traceback
  2  a usage error, a bad value, or an expected failure (missing/unreadable/corrupt file, full disk, missing extra):
     one `error:` line naming the argument, file or field
  3  `memo ask`: the executive failed and the answer is the protocol's fallback (a warning names the cause)
  130 interrupted (Ctrl-C)
With --debug (or MEMO_DEBUG=1) every error re-raises with its traceback.
"""

from __future__ import annotations

import errno
import importlib.util
import sys
import warnings

import typer

from memo_edge.errors import MemoError
from memo_edge.settings import env

# Help is click's plain formatter, not typer's rich panels: rich squeezes a panel's columns to the terminal and cuts
# option names ("--synthesis.gene…" at 80 columns); click puts a long name on its own line and wraps the help
# under it, using up to HELP_WIDTH columns where the terminal is wider than 80.
HELP_WIDTH = 120
HELP = {"rich_markup_mode": None, "context_settings": {"max_content_width": HELP_WIDTH}}

app = typer.Typer(
    name="memo",
    help="memo-edge: put a corpus into a small MEMORY model and ask it offline.\n\n"
    "Pipeline: memo synthesize -> memo train -> memo export (or all three: memo build) -> memo ask | eval | serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    **HELP,
)
models_app = typer.Typer(
    help="Pull and list MEMORY/EXECUTIVE base models (no model hub needed).", no_args_is_help=True, **HELP
)
app.add_typer(models_app, name="models")

_state = {"debug": False}

# Optional-dependency modules -> the extra that installs them. A verb listed in VERB_EXTRA names its own extra
# (torch is needed by both [train] and [export]: `memo export` should say [export]).
MODULE_EXTRA = {
    "torch": "train",
    "transformers": "train",
    "peft": "train",
    "accelerate": "train",
    "safetensors": "train",
    "onnx": "export",
    "onnx_ir": "export",
    "onnxruntime_genai": "export",
    "gguf": "export",
    "pypdf": "pdf",
    "bm25s": "synth",
    "spacy": "synth",
    "lemminflect": "synth",
    "matplotlib": "plot",
}
# build and demo run the extractive generator (spaCy) before training and export.
VERB_EXTRA = {
    "train": "train",
    "merge": "train",
    "export": "export",
    "build": "synth,train,export",
    "demo": "synth,train,export",
}


def require_extra(verb: str, *modules: str) -> None:
    """Fail before any work when an optional dependency of `memo VERB` is missing (a runtime-only install)."""
    for mod in modules:
        try:
            found = importlib.util.find_spec(mod) is not None
        except (ValueError, ImportError):  # a module set to None in sys.modules, or a broken parent package
            found = False
        if not found:
            extra = VERB_EXTRA.get(verb, MODULE_EXTRA.get(mod, "all"))
            raise MemoError(
                f"memo {verb}: needs the [{extra}] extra ({mod} is not installed): pip install 'memo-edge[{extra}]'"
            )


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")):
    _state["debug"] = debug or env().debug


def _warn_line(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def _click_exceptions():
    """typer >= 0.29 raises its bundled click's classes (typer._click); older typer raises click's own."""
    mods = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            mods.append(__import__(name, fromlist=["ClickException"]))
        except ImportError:
            pass
    return (tuple(m.ClickException for m in mods), tuple(m.NoArgsIsHelpError for m in mods))


def _verb(argv: list[str]) -> str | None:
    """The verb the user typed (first word naming a registered command), for messages."""
    names = {c.name or c.callback.__name__ for c in app.registered_commands} | {"models"}
    return next((a for a in argv if a in names), None)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _usage_line(e) -> str:
    ctx = getattr(e, "ctx", None)
    where = f"{ctx.command_path}: " if ctx is not None else ""
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"{where}{_one_line(e.format_message())}{hint}"


def _missing_command(e) -> str:
    """Bare `memo` / `memo models`: show the help, then say what is missing in one line."""
    ctx = e.ctx
    help_text = e.format_message()  # built by ctx.get_help(), which typer's rich help already printed (then "")
    if help_text.strip():
        print(help_text, file=sys.stderr)
    names = ", ".join(ctx.command.list_commands(ctx))
    return f"{ctx.command_path}: missing command (expected one of: {names})"


def _is_enospc(e: BaseException) -> bool:
    # torch.save / safetensors raise their own types for a full disk; their text still says so
    return (
        (isinstance(e, OSError) and e.errno == errno.ENOSPC)
        or "No space left on device" in str(e)
        or "os error 28" in str(e)
    )


def _output_arg(argv: list[str]) -> str | None:
    """The value of -o/--out/--output in argv: where a verb was writing."""
    for i, a in enumerate(argv):
        if a in ("-o", "--out", "--output") and i + 1 < len(argv):
            return argv[i + 1]
        for flag in ("--out=", "--output="):
            if a.startswith(flag):
                return a[len(flag) :]
    return None


def _exit(msg: str, code: int) -> None:
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    warnings.showwarning = _warn_line
    click_errors, no_args_errors = _click_exceptions()

    def debug() -> bool:  # usage errors happen before the --debug callback runs: look at argv too
        if _state["debug"] or "--debug" in args:
            return True
        try:
            return env().debug
        except MemoError:  # a bad MEMO_* value is the error being reported
            return False

    try:
        rc = app(args=args, standalone_mode=False)
        # Non-standalone typer *returns* exit codes instead of exiting: Ctrl-C comes back as 130.
        if isinstance(rc, int) and rc:
            if rc == 130:
                print("interrupted", file=sys.stderr)
            sys.exit(rc)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except BaseException as e:
        # usage errors first: a traceback of the argument parser helps nobody, not even with --debug
        if no_args_errors and isinstance(e, no_args_errors):
            _exit(_missing_command(e), 2)
        if click_errors and isinstance(e, click_errors):
            _exit(_usage_line(e), getattr(e, "exit_code", 2) or 2)
        if debug():
            raise
        if isinstance(e, MemoError):
            _exit(_one_line(e), e.exit_code)
        if isinstance(e, ModuleNotFoundError) and (e.name or "").split(".")[0] in MODULE_EXTRA:
            mod = e.name.split(".")[0]
            verb = _verb(args)
            extra = VERB_EXTRA.get(verb, MODULE_EXTRA[mod])
            _exit(
                f"memo {verb or ''}: needs the [{extra}] extra ({mod} is not installed): "
                f"pip install 'memo-edge[{extra}]'".replace("memo :", "memo:"),
                2,
            )
        if _is_enospc(e):
            where = getattr(e, "filename", None) or _output_arg(args)  # torch/safetensors do not say where
            _exit(
                f"{str(where) + ': ' if where else ''}no space left on device (free some disk space and run the "
                "command again)",
                2,
            )
        if isinstance(e, OSError) and e.filename is not None:
            # A path we could not create, read or write (permissions, missing parent): name it, one line.
            _exit(f"{e.filename}: {e.strerror or e}", 2)
        if isinstance(e, typer.Abort):
            print("aborted", file=sys.stderr)
            sys.exit(1)
        _exit(f"unexpected {type(e).__name__}: {_one_line(e)[:300]} (run with --debug for the traceback)", 1)
