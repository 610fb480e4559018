"""The `memo` command: thin typed functions, one module per verb, options generated from the config models.

`main` imports only the module of the verb it runs (all of them for help or an unknown verb): a verb module imports
its config models at the top to build its options, and `memo ask` must not import training's or export's.
"""

from __future__ import annotations

import importlib
import sys

from . import app as _app_module
from .app import app

# verb -> the module that registers it on `app`
VERBS = {
    "models": "models",
    "synthesize": "synthesize",
    "train": "train",
    "merge": "train",
    "export": "export",
    "keygen": "export",
    "build": "build",
    "demo": "build",
    "ask": "ask",
    "eval": "evaluate",
    "serve": "serve",
    "mcp": "mcp",
    "bench": "bench",
}


def load_verbs(names=None) -> None:
    """Register the given verbs (default: all) on `app`."""
    for module in sorted({VERBS[n] for n in names} if names else set(VERBS.values())):
        try:
            importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{module}":
                raise


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    verb = next((a for a in args if not a.startswith("-")), None)
    load_verbs([verb] if verb in VERBS and "--help" not in args[: args.index(verb)] else None)
    _app_module.main(args)


__all__ = ["app", "main", "load_verbs"]
