"""Each setting is declared once: the CLI's options are generated from the config models (memo_edge/cli/options.py).

Every field of every model a verb uses is an option of that verb (or excluded with a reason), no option's default
differs from its field's, and `memo build --config FILE` and its flags are the same fields."""

from __future__ import annotations

import inspect
import re

import pytest
import typer
from typer.testing import CliRunner

from memo_edge.cli import app, load_verbs
from memo_edge.cli.options import field_default
from memo_cli import memo

VERBS = ("synthesize", "train", "ask", "eval", "serve", "mcp", "export", "build")
# Models whose every field must say what it is (the help text).
DESCRIBED = {
    "SynthesisConfig",
    "ProtocolConfig",
    "ExecutiveConfig",
    "LoadConfig",
    "ServerConfig",
    "McpConfig",
    "JudgeConfig",
    "ExportConfig",
    "TrainConfig",
}


def commands() -> dict:
    load_verbs()
    group = typer.main.get_command(app)
    return {name: group.commands[name] for name in VERBS}


def groups_of(command):
    run = inspect.unwrap(command.callback, stop=lambda f: hasattr(f, "option_groups"))
    return run.option_groups


@pytest.mark.parametrize("verb", VERBS)
def test_every_field_is_an_option_with_the_models_default(verb):
    command = commands()[verb]
    by_name = {p.name: p for p in command.params}
    for group in groups_of(command):
        for name, info in group.model.model_fields.items():
            where = f"memo {verb}: {group.model.__name__}.{name}"
            if name in group.exclude:
                assert len(group.exclude[name]) > 10, f"{where}: excluded without a reason"
                continue
            option = by_name.get(group.option_param(name))
            assert option is not None, f"{where}: not an option"
            assert group.names(name)[0].split("/")[0] in option.opts, where
            default = field_default(info)
            assert option.default == default or (option.default in (None, ()) and default in (None, [])), (
                f"{where}: option default {option.default!r} != field default {default!r}"
            )
            if group.model.__name__ in DESCRIBED:
                assert info.description, f"{where}: no description (the option's help)"
                assert option.help == info.description


@pytest.mark.parametrize("verb", VERBS)
def test_no_flag_is_declared_twice(verb):
    flags = [opt for p in commands()[verb].params for opt in [*p.opts, *p.secondary_opts]]
    assert len(flags) == len(set(flags)), sorted(f for f in flags if flags.count(f) > 1)


def test_build_flags_and_config_file_are_the_same_fields(tmp_path, monkeypatch):
    import memo_edge.build

    seen = {}
    monkeypatch.setattr(memo_edge.build, "build", lambda cfg, log: seen.setdefault("cfg", cfg) and tmp_path)
    load_verbs(["build"])
    monkeypatch.setattr("memo_edge.cli.build.require_extra", lambda *a: None)
    toml = tmp_path / "b.toml"
    toml.write_text(
        'corpus = "c"\nout = "o"\nbase = "tiny-random"\n'
        '[synthesis]\nchunk_words = 100\nsteps = ["facts"]\n[train]\nepochs = 2\nlr = 0.01\n'
        "[export]\nheldout = 4\n"
    )
    result = CliRunner().invoke(
        app,
        [
            "build",
            "--config",
            str(toml),
            "--train.epochs",
            "3",
            "--synthesis.max-pairs",
            "7",
            "--precision",
            "fp32",
            "--export.no-verify",
            "--synthesis.steps",
            "facts,entity",
        ],
    )
    assert result.exit_code == 0, result.output
    cfg = seen["cfg"]
    assert cfg.train.epochs == 3 and cfg.train.lr == 0.01 and cfg.base == "tiny-random"  # flag wins, file stays
    assert cfg.synthesis.chunk_words == 100 and cfg.synthesis.max_pairs == 7
    assert cfg.synthesis.steps == ("facts", "entity")
    assert cfg.export.precision == "fp32" and cfg.export.verify is False and cfg.export.heldout == 4
    # a default never overrides the file: only the flags given are laid over it
    assert cfg.train.model_fields_set == {"preset", "base", "epochs", "lr"}  # the preset in effect is recorded


def test_a_value_the_model_refuses_names_the_flag(capsys):
    from memo_edge.cli import main

    for args, flag in [
        (["ask", "p", "q", "--exec-temperature-final", "-1"], "--exec-temperature-final"),
        (["serve", "p", "--body-timeout", "0"], "--body-timeout"),
        (["build", "c", "-o", "o", "--train.epochs", "0"], "--train.epochs"),
        (["mcp", "p", "--port", "70000"], "--port"),
    ]:
        with pytest.raises(SystemExit) as e:
            main(args)
        err = capsys.readouterr().err.strip().splitlines()
        assert e.value.code == 2 and len(err) == 1 and err[0].startswith(f"error: {flag}:"), (args, err)


def test_help_texts_keep_their_brackets_and_name_every_corpus_format():
    """Under rich markup a bare [synthesis] was read as a style tag and vanished ("work_dir and , ,  tables")."""
    load_verbs()
    out = CliRunner().invoke(app, ["build", "--help"], env={"COLUMNS": "300"}, terminal_width=300).output
    assert "[synthesis], [train], [export] tables" in out, out
    assert ".md/.txt/.jsonl/.pdf" in out


@pytest.mark.slow
@pytest.mark.parametrize("verb", ["build", "synthesize", "train", "export", "ask", "eval", "serve", "mcp"])
def test_help_at_80_columns_names_every_option_whole(verb):
    """rich's panels cut long option names to fit 80 columns ("--synthesis.gene…"): every name must appear whole."""
    load_verbs()
    command = typer.main.get_command(app).commands[verb]
    names = [o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")]
    assert len(names) > (60 if verb == "build" else 3)
    p = memo(verb, "--help", env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert p.returncode == 0, p.stderr
    words = set(re.split(r"[\s,]+", p.stdout))
    assert [n for n in names if n not in words] == [], p.stdout
    assert max(map(len, p.stdout.splitlines())) <= 80 and "…" not in p.stdout
