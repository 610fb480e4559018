"""`local:MODEL.gguf`: an instruct GGUF run by llama.cpp as the EXECUTIVE, decoding under the response_format's
schema (llama.cpp's own grammar). Skips cleanly without llama-cpp-python (the `[llama]` extra)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field
from runtime_fixtures import varied_pack

from memo_edge.errors import MemoError
from memo_edge.runtime.executives import make_executive

MESSAGES = [
    {"role": "system", "content": "You are the executive. Reply with ONE JSON object."},
    {"role": "user", "content": "Question: who founded Lumen Labs? Stage: ANSWER SEEKING."},
]


# a schema's own pattern bounds a string (executives.bounded_schema leaves it as it is)
Short = Annotated[str, Field(pattern=r"^[A-Za-z0-9 ]{0,24}$")]


class Seeking(BaseModel):
    """A stage reply with bounded strings and lists: llama.cpp does not steer a wandering model to close its JSON,
    so a random model is given a schema it cannot outrun within max_tokens."""

    decision: Literal["continue", "answer"]
    sub_questions: list[Short] = Field(max_length=2)
    answer: Short


@pytest.fixture(scope="module")
def gguf(tiny_dir, tmp_path_factory) -> Path:
    pytest.importorskip("llama_cpp")  # before the export: without llama.cpp there is nothing to run it
    pytest.importorskip("gguf")
    from memo_edge.export import export_pack

    ckpt = varied_pack(tiny_dir)[0]  # the varied tiny model: varied tokens, not one repeated
    pack = export_pack(
        ckpt, tmp_path_factory.mktemp("gguf") / "pack", format="gguf", precision="f16", verify=False, progress=False
    )
    return pack / "model.gguf"


def test_without_llama_cpp_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import llama_cpp -> ImportError
    with pytest.raises(MemoError, match=r"memo-edge\[llama\]"):
        make_executive(f"local:{tmp_path / 'model.gguf'}")


def test_gguf_executive_decodes_under_the_schema(gguf):
    schema = Seeking.model_json_schema()
    forms = [
        {"type": "json_schema", "json_schema": {"name": "seeking", "schema": schema, "strict": True}},
        {"type": "json_object", "schema": schema},
    ]
    for seed in (0, 1):
        ex = make_executive(f"local:{gguf}", threads=2, seed=seed)
        assert type(ex).__name__ == "GGUFExecutive"
        with pytest.raises(ValueError):  # the random model, free: not JSON
            json.loads(ex.complete(MESSAGES, 1.0, 60))
        for rf in forms:
            for temperature in (0.0, 1.0):
                Seeking.model_validate_json(ex.complete(MESSAGES, temperature, 200, response_format=rf))


class Free(BaseModel):
    """The protocol's kind of reply: strings the schema leaves free."""

    decision: Literal["continue", "answer"]
    answer: str


def test_free_strings_hold_only_what_json_takes(gguf):
    """llama-cpp-python's own schema converter lets raw control characters into strings, which no JSON parser takes;
    the executive bounds free strings to what JSON takes unescaped (executives.bounded_schema), so every reply parses
    strictly, and without a schema (schema=False) the model writes freely."""
    rf = {"type": "json_schema", "json_schema": {"name": "free", "schema": Free.model_json_schema(), "strict": True}}
    for seed in range(4):
        ex = make_executive(f"local:{gguf}", threads=2, seed=seed)
        reply = ex.complete(MESSAGES, 1.5, 200, response_format=rf)
        assert 1 <= len(Free.model_validate(json.loads(reply)).answer) <= 100, reply
        assert ex.accepted_format == "json_schema"
    free = make_executive(f"local:{gguf}", threads=2, seed=0, schema=False)
    with pytest.raises(ValueError):
        json.loads(free.complete(MESSAGES, 1.0, 60, response_format=rf))
    assert free.accepted_format == "text"


def test_a_missing_gguf_is_a_named_error(tmp_path):
    pytest.importorskip("llama_cpp")
    with pytest.raises(MemoError, match="no such GGUF file"):
        make_executive(f"local:{tmp_path / 'absent.gguf'}")
