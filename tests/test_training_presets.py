"""TrainConfig's named presets: each one shipped is a valid config whose fields are its values, given values win,
the CLI lists them all, and a method a preset was not tuned for is one clear error."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from memo_edge.cli import app, load_verbs
from memo_edge.cli.options import Group, build_model
from memo_edge.errors import MemoError
from memo_edge.training.config import PRESET_PURPOSE, PRESETS, TrainConfig


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_a_valid_config_with_its_values(name):
    cfg = TrainConfig(preset=name)
    assert cfg.preset == name and PRESET_PURPOSE[name]
    assert {k: getattr(cfg, k) for k in PRESETS[name]} == PRESETS[name]
    # fields the preset does not name keep their defaults; LoRA's alpha follows the rank
    default = TrainConfig()
    for field in TrainConfig.model_fields.keys() - PRESETS[name].keys() - {"preset", "lora_alpha"}:
        assert getattr(cfg, field) == getattr(default, field), field
    assert cfg.lora_alpha == 2 * cfg.lora_r
    # the dumped config (memo_train.json, the build cache key) reads back as the same config
    assert TrainConfig.model_validate(cfg.model_dump()) == cfg
    # given values win over the preset's
    assert TrainConfig(preset=name, epochs=7, lr=0.5).model_dump() == {**cfg.model_dump(), "epochs": 7, "lr": 0.5}


def test_the_defaults_are_the_cpu_default_preset_and_lora_picks_its_own():
    assert TrainConfig() == TrainConfig(preset="cpu-default") and PRESETS["cpu-default"] == {}
    assert TrainConfig(method="lora") == TrainConfig(preset="cpu-lora")
    assert TrainConfig(method="qlora").lr == PRESETS["cpu-lora"]["lr"]


def test_a_method_the_preset_was_not_tuned_for_names_the_alternatives():
    group = Group(TrainConfig, "config")
    with pytest.raises(MemoError, match="preset gpu is tuned for full fine-tuning.*gpu-lora") as e:
        build_model(group, {"preset": "gpu", "method": "lora"})
    assert "\n" not in str(e.value)
    assert build_model(group, {"preset": "gpu", "method": "lora", "lr": 1e-4}).method == "lora"  # lr given: theirs
    with pytest.raises(MemoError, match="--preset"):
        build_model(group, {"preset": "laptop"})


@pytest.mark.parametrize("verb", ["train", "build"])
def test_help_lists_every_preset(verb):
    load_verbs([verb])
    out = CliRunner().invoke(app, [verb, "--help"], terminal_width=200).output
    flat = " ".join(out.split())
    for name in PRESETS:
        assert f"{name}: {PRESET_PURPOSE[name]}" in flat, (name, out)
    assert "lr=2e-05" in flat  # the values, not only the names


def test_the_train_flag_lays_given_values_over_the_preset(monkeypatch, tmp_path):
    import memo_edge.training

    seen = {}
    monkeypatch.setattr(memo_edge.training, "train", lambda r, o, cfg, **kw: seen.setdefault("cfg", cfg) and {})
    monkeypatch.setattr("memo_edge.cli.train.require_extra", lambda *a: None)
    monkeypatch.setattr("memo_edge.cli.train._summary", lambda m: "")
    load_verbs(["train"])
    result = CliRunner().invoke(app, ["train", "r.jsonl", "-o", str(tmp_path), "--preset", "gpu", "--epochs", "2"])
    assert result.exit_code == 0, result.output
    assert seen["cfg"] == TrainConfig(preset="gpu", epochs=2)
