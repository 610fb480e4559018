"""GGUF export (llama.cpp / Ollama): file layout, tokenizer metadata, Modelfile template, and llama.cpp answers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from memo_edge.errors import MemoError
from memo_edge.pack import Pack


@pytest.fixture(scope="module")
def gguf_packs(tiny_dir, tmp_path_factory):
    from memo_edge.export import export_pack

    root = tmp_path_factory.mktemp("gguf")
    built: dict[str, Path] = {}

    def get(precision: str) -> Path:
        if precision not in built:
            # f16 is verified through llama.cpp when it is installed (used below); q8_0 only needs its layout
            built[precision] = export_pack(
                tiny_dir,
                root / precision,
                format="gguf",
                precision=precision,
                verify=precision == "f16",
                progress=False,
            )
        return built[precision]

    return get


def _reader(pack: Path):
    from gguf import GGUFReader

    return GGUFReader(str(pack / "model.gguf"))


@pytest.mark.slow
@pytest.mark.parametrize("precision,weight_type", [("f16", "F16"), ("q8_0", "Q8_0")])
def test_gguf_layout(gguf_packs, tiny_dir, precision, weight_type):
    pack = Pack.open(gguf_packs(precision))
    m = pack.manifest
    assert m.kind == "gguf" and m.precision == precision and set(m.files) == {"model", "modelfile", "tokenizer"}
    r = _reader(pack.root)
    f = {
        k: r.fields[k].contents()
        for k in (
            "general.architecture",
            "tokenizer.ggml.model",
            "tokenizer.ggml.pre",
            "llama.block_count",
            "llama.attention.head_count_kv",
            "tokenizer.ggml.eos_token_id",
            "tokenizer.ggml.add_bos_token",
        )
    }
    assert f == {
        "general.architecture": "llama",
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "smollm",
        "llama.block_count": 2,
        "llama.attention.head_count_kv": 2,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.add_bos_token": False,
    }
    assert len(r.fields["tokenizer.ggml.tokens"].data) == 49152
    types = {t.name: t.tensor_type.name for t in r.tensors}
    assert "output.weight" not in types  # tied lm_head: llama.cpp reuses token_embd
    assert types["output_norm.weight"] == "F32" and types["blk.0.attn_norm.weight"] == "F32"
    assert types["blk.0.attn_q.weight"] == weight_type and types["token_embd.weight"] == weight_type


@pytest.mark.slow
def test_q_k_rotary_permutation(gguf_packs, tiny_dir):
    """q/k rows are stored in llama.cpp's rotary order; v is untouched."""
    from safetensors.numpy import load_file

    from memo_edge.export.gguf_write import permute_rotary

    hf = load_file(str(tiny_dir / "model.safetensors"))
    t = {x.name: x for x in _reader(gguf_packs("f16")).tensors}

    def stored(name, like):
        return np.asarray(t[name].data).reshape(like.shape).astype(np.float32)

    q, k, v = (hf[f"model.layers.0.self_attn.{p}_proj.weight"] for p in "qkv")
    np.testing.assert_allclose(
        stored("blk.0.attn_q.weight", q), permute_rotary(q, 4).astype(np.float16), rtol=0, atol=0
    )
    np.testing.assert_allclose(
        stored("blk.0.attn_k.weight", k), permute_rotary(k, 2).astype(np.float16), rtol=0, atol=0
    )
    np.testing.assert_allclose(stored("blk.0.attn_v.weight", v), v.astype(np.float16), rtol=0, atol=0)
    assert not np.array_equal(permute_rotary(q, 4), q)


def _modelfile_template(text: str) -> tuple[str, str | None]:
    tmpl = re.search(r'TEMPLATE """(.*?)"""', text, re.S).group(1)
    sysm = re.search(r'SYSTEM """(.*?)"""', text, re.S)
    return tmpl, sysm.group(1) if sysm else None


def test_modelfile_template_is_the_memory_prompt(gguf_packs):
    pack = Pack.open(gguf_packs("q8_0"))
    text = (pack.root / "Modelfile").read_text()
    assert text.startswith("FROM ./model.gguf\n")
    tmpl, system = _modelfile_template(text)
    # Go template semantics for the two fields we use
    rendered = tmpl.replace("{{ .System }}", system).replace("{{ .Prompt }}", "Who founded Lumen Works?")
    assert rendered == pack.manifest.prompt.render("Who founded Lumen Works?")
    assert 'PARAMETER stop "<|im_end|>"' in text and "PARAMETER temperature 0.0" in text


def test_modelfile_escapes_template_braces():
    from memo_edge.export.modelfile import modelfile, template
    from memo_edge.pack import Generation
    from memo_edge.prompt import MemoryPrompt

    p = MemoryPrompt.chatml(system="Facts {{like this}} stay literal.")
    body, system = template(p)
    assert system == "Facts {{like this}} stay literal." and "{{ .System }}" in body
    p2 = MemoryPrompt(prefix="Q {{x}}: ", suffix="\nA: ", answer_end="\n", stop=["\n"], system="")
    text = modelfile(p2, "m.gguf", Generation())
    assert '{{ "{{" }}x}}' in text
    with pytest.raises(MemoError, match='"""'):
        modelfile(
            MemoryPrompt(prefix='say """', suffix=":", answer_end="\n", stop=["\n"], system=""), "m.gguf", Generation()
        )


def test_gguf_rejects_other_architectures(tiny_dir, tmp_path):
    import json
    import shutil

    from memo_edge.export import export_pack

    ck = tmp_path / "ck"
    shutil.copytree(tiny_dir, ck)
    cfg = json.loads((ck / "config.json").read_text())
    cfg["architectures"] = ["Qwen2ForCausalLM"]
    (ck / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(MemoError, match="not supported for gguf"):
        export_pack(ck, tmp_path / "out", format="gguf", precision="q8_0", progress=False)


def test_llama_cpp_answers_match_the_onnx_pack(gguf_packs, tiny_dir, tmp_path):
    """llama.cpp on the GGUF and the memo-edge runtime on the ONNX pack give the same greedy answers."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed (pip install 'memo-edge[llama]')")
    from memo_edge.export import export_pack
    from memo_edge.export.gguf_pack import LlamaCppRunner
    from memo_edge.runtime import Engine

    gg = Pack.open(gguf_packs("f16"))
    assert gg.manifest.metrics["verify"]["status"] == "ok"
    assert gg.manifest.metrics["verify"]["parity"]["all_equal"]
    onnx = Engine(export_pack(tiny_dir, tmp_path / "onnx", precision="fp32", verify=False, progress=False))
    runner = LlamaCppRunner(gg.root / "model.gguf")
    prompts = [gg.manifest.prompt.render(q) for q in ("Who founded Lumen Works?", "Where is the Orchard Lab?")]
    stop = gg.manifest.special_tokens.stop_token_ids
    ours = onnx.generate(prompts, max_new_tokens=16, stop_token_ids=stop)
    theirs = runner.generate(prompts, max_new_tokens=16, stop_token_ids=stop)
    assert [o.token_ids for o in ours] == [t.token_ids for t in theirs]
    assert [o.text for o in ours] == [t.text for t in theirs]
    assert runner.encode(prompts[0]) == onnx.encode(prompts[0])  # same tokenizer, special tokens included
