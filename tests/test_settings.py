"""Every MEMO_* environment variable is a field of one pydantic-settings model (memo_edge/settings.py): each one
reaches the code that uses it, a bad value is one error naming the variable, and no other module reads one."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from memo_edge.cli.mcp import MCP_EXECUTIVE
from memo_edge.cli.options import config_options
from memo_edge.errors import MemoError
from memo_edge.runtime.config import ExecutiveConfig
from memo_edge.settings import EnvSettings, env, variable

REPO = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = ("memo_edge", "runtime", "training", "export")
# Read where it is used until the synthesis package's owner moves it (that package is being split).
NOT_YET = {"memo_edge/synthesis/nlp.py": {"MEMO_SPACY_MODEL"}}


def test_each_variable_reaches_its_user(monkeypatch, tmp_path):
    from memo_edge.cli.bench import find_benchmarks
    from memo_edge.datasets import benchdata_root
    from memo_edge.home import memo_home, models_dir
    from memo_edge.runtime.providers import choose_providers, default_threads, spinning_default
    from memo_edge.signing import trusted_from_env

    monkeypatch.setenv("MEMO_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("MEMO_MODELS_DIR", str(tmp_path / "m"))
    assert memo_home() == tmp_path / "h" and models_dir() == tmp_path / "m"
    monkeypatch.setenv("MEMO_MODELS_DIR", "")  # empty = unset
    assert models_dir() == tmp_path / "h" / "models"
    monkeypatch.setenv("MEMO_BENCHDATA", str(tmp_path / "b"))
    assert benchdata_root() == tmp_path / "b"
    monkeypatch.setenv("MEMO_TRUSTED_KEY", os.pathsep.join(["a.pub", "", "b.pub"]))
    assert trusted_from_env() == ["a.pub", "b.pub"]
    monkeypatch.setenv("MEMO_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("MEMO_SPIN", "0")
    assert spinning_default() is False
    monkeypatch.setenv("MEMO_PROVIDER", "cpu")
    assert choose_providers(None, ["CUDAExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    monkeypatch.setenv("MEMO_REPO", str(REPO))
    assert find_benchmarks(start=tmp_path) == REPO / "benchmarks"
    from memo_edge.training.openmp import prefer_sleeping_threads

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    prefer_sleeping_threads()  # the default: torch's waiting threads sleep
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    prefer_sleeping_threads()  # the user's own setting wins
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    monkeypatch.setenv("MEMO_OMP_WAIT", "default")
    prefer_sleeping_threads()
    assert "OMP_WAIT_POLICY" not in os.environ
    monkeypatch.setenv("MEMO_DEBUG", "1")
    monkeypatch.setenv("MEMO_TRAIN_KILL_AFTER_STEP", "5")
    s = env()
    assert (
        s.debug is True
        and s.train_kill_after_step == 5
        and variable("train_kill_after_step") == "MEMO_TRAIN_KILL_AFTER_STEP"
    )


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("MEMO_THREADS", "lots", "MEMO_THREADS='lots': expected an integer"),
        ("MEMO_THREADS", "0", "MEMO_THREADS='0': expected a positive integer"),
        ("MEMO_SPIN", "yes", "MEMO_SPIN='yes': expected 1 or 0"),
        ("MEMO_PACK_MAX_BYTES", "1GB", "MEMO_PACK_MAX_BYTES='1GB': expected an integer"),
        ("MEMO_DEBUG", "maybe", "MEMO_DEBUG='maybe': expected 1 or 0"),
        ("MEMO_OMP_WAIT", "spin", "MEMO_OMP_WAIT='spin': expected passive or default"),
    ],
)
def test_a_bad_value_is_one_error_naming_the_variable(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(MemoError) as e:
        env()
    assert str(e.value) == expected


def test_memo_mcp_takes_the_executive_from_the_environment(monkeypatch):
    """memo mcp's executive options fall back to MEMO_EXECUTIVE / MEMO_EXECUTIVE_MODEL; a flag wins."""
    seen = {}
    probe = typer.Typer()

    @probe.command()
    @config_options(MCP_EXECUTIVE)
    def mcp(*, executive_cfg: ExecutiveConfig):  # memo mcp's executive options, without serving
        seen["cfg"] = executive_cfg

    monkeypatch.setenv("MEMO_EXECUTIVE", "none")
    monkeypatch.setenv("MEMO_EXECUTIVE_MODEL", "m1")
    assert CliRunner().invoke(probe, []).exit_code == 0
    assert (seen["cfg"].executive, seen["cfg"].executive_model) == ("none", "m1")
    assert CliRunner().invoke(probe, ["--executive-model", "m2"]).exit_code == 0
    assert seen["cfg"].executive_model == "m2"
    monkeypatch.delenv("MEMO_EXECUTIVE_MODEL")
    assert CliRunner().invoke(probe, []).exit_code == 0
    assert seen["cfg"].executive_model == ExecutiveConfig().executive_model


def _environ_reads(tree: ast.AST) -> list[ast.AST]:
    """os.environ[...], os.environ.get(...), os.getenv(...) calls and subscripts."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            out.append(node)
    return out


def test_no_module_reads_a_memo_variable_but_settings():
    offenders = []
    for folder in PACKAGE_DIRS:
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel == "memo_edge/settings.py":
                continue
            text = path.read_text()
            tree = ast.parse(text)
            if not _environ_reads(tree):
                continue
            names = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
            memo = {n for n in names if n.startswith("MEMO_") and n.isupper()} - NOT_YET.get(rel, set())
            if memo:
                offenders.append((rel, sorted(memo)))
    assert offenders == [], offenders
    assert {"spacy_model"} <= EnvSettings.model_fields.keys()  # declared here even where read elsewhere
