"""The layers of ARCHITECTURE.md, enforced: import-linter's contracts (pyproject.toml [tool.importlinter]) pass, and
every module of memo_edge belongs to a layer (a new module cannot slip past the contracts unclassified), and no module
takes part in an import cycle (read from the source with ast, imports inside functions and under TYPE_CHECKING
included)."""

from __future__ import annotations

import ast
import graphlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

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


def module_files() -> dict[str, Path]:
    """Every module of memo_edge as it is imported (the stage folders installed under it), by dotted name."""
    roots = {"memo_edge": REPO / "memo_edge"} | {f"memo_edge.{n}": f for n, f in STAGES.items()}
    out = {}
    for name, folder in roots.items():
        for path in folder.rglob("*.py"):
            parts = [*path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            if "__pycache__" not in parts:
                out[".".join([name, *parts])] = path
    return out


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The memo_edge modules `name` imports anywhere in its file: top level, inside functions, under TYPE_CHECKING."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            stem = ".".join([*base, *([node.module] if node.module else [])])
            # `from pkg import mod` imports the module pkg.mod; `from mod import func` imports mod
            targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in modules else stem for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:  # `import memo_edge.runtime.engine.x` -> the longest known module
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def test_no_module_takes_part_in_an_import_cycle():
    modules = module_files()
    assert {"memo_edge.runtime.batch", "memo_edge.export.onnx_build", "memo_edge.cli.app"} <= set(modules)
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    assert "memo_edge.runtime.engine" in graph["memo_edge.runtime.batcher"]  # the parse sees imports at all
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as e:
        pytest.fail(f"import cycle: {' -> '.join(e.args[1])}")
