"""The layers of ARCHITECTURE.md, enforced: import-linter's contracts (pyproject.toml [tool.importlinter]) pass, and
every module of memo_edge belongs to a layer (a new module cannot slip past the contracts unclassified)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAGES = {
    "synthesis": REPO / "memo_edge" / "synthesis",
    "training": REPO / "training",
    "export": REPO / "export",
    "runtime": REPO / "runtime",
}


def package_view(root: Path) -> Path:
    """memo_edge as it is imported: memo_edge/ plus the top-level stage folders installed under it (setuptools'
    package-dir). import-linter reads a package from one folder, so it gets a folder of links."""
    view = root / "memo_edge"
    view.mkdir(parents=True)
    for entry in (REPO / "memo_edge").iterdir():
        if entry.name != "__pycache__":
            (view / entry.name).symlink_to(entry)
    for name, folder in STAGES.items():
        if not (view / name).exists():
            (view / name).symlink_to(folder)
    return root


def test_import_contracts_hold(tmp_path):
    root = package_view(tmp_path)
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.run(
        [str(lint), str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken" in proc.stdout, proc.stdout


def test_every_module_is_in_a_layer():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["id"] == "layers")["layers"]
    placed = {m.strip() for layer in layers for m in layer.replace("|", ":").split(":")}
    modules = {f"memo_edge.{p.stem}" for p in (REPO / "memo_edge").glob("*.py") if p.stem != "__init__"}
    modules |= {f"memo_edge.{p.parent.name}" for p in (REPO / "memo_edge").glob("*/__init__.py")}
    modules |= {f"memo_edge.{name}" for name in STAGES}
    assert modules - placed == set(), "modules in no layer (add them to pyproject.toml's layers contract)"
