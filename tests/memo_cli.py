"""The real `memo` command in a subprocess, as the CLI tests run it: `memo("ask", pack, "Who?")`.

The child gets this test's environment (its MEMO_HOME, the shared models cache) without the developer's MEMO_DEBUG
(tracebacks would change every error message) or MEMO_TRUSTED_KEY (signature checks would change), plus `env`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MEMO = [sys.executable, "-m", "memo_edge"]
UNSET = ("MEMO_DEBUG", "MEMO_TRUSTED_KEY")


def memo(
    *args, env: dict | None = None, cwd: Path | None = REPO, timeout: float = 120, code: str | None = None
) -> subprocess.CompletedProcess:
    """`python -m memo_edge ARGS` (or `python -c CODE ARGS`), text output captured, never raising on its exit code."""
    cmd = [sys.executable, "-c", code] if code else MEMO
    child_env = {k: v for k, v in os.environ.items() if k not in UNSET} | (env or {})
    return subprocess.run(
        [*cmd, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=child_env, cwd=cwd
    )
