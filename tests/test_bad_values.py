"""Hostile values are one refusal each (an `error:` line with exit 2, a 400, an MCP error), never a traceback:
negative seeds, malformed signature.json, a structured protocol with no executive; terminal escapes from model
text never reach the terminal; a failed `memo keygen` leaves no empty key. Real packs, real `memo` processes."""

from __future__ import annotations

import shutil

import pytest
from runtime_fixtures import varied_pack
from test_cli_errors import assert_one_error, cli

from memo_edge.errors import MemoError, PackError
from memo_edge.runtime import Memory


@pytest.fixture(scope="module")
def pack(tiny_dir):
    return varied_pack(tiny_dir)[1]


def test_a_negative_seed_is_one_refusal(pack):
    m = Memory.load(pack, threads=2)
    with pytest.raises(MemoError, match="seed: -1"):
        m.engine.generate(["Who founded Lumen Labs?"], max_new_tokens=4, temperature=0.7, seed=-1)
    p = cli("ask", str(pack), "Who founded Lumen Labs?", "--executive", "none", "--seed", "-1")
    assert_one_error(p, "seed")


@pytest.mark.parametrize("doc", ["[]", "null", '"x"', "7", '{"format": "memo-pack-signature", "algorithm": "ed25519"}'])
def test_a_malformed_signature_json_is_one_refusal(pack, tmp_path, doc):
    copy = tmp_path / "pack"
    shutil.copytree(pack, copy)
    (copy / "signature.json").write_text(doc)
    with pytest.raises(PackError, match="signature.json: unreadable"):
        Memory.load(copy, threads=2)
    assert_one_error(cli("ask", str(copy), "Who founded Lumen Labs?", "--executive", "none"), "signature.json")
