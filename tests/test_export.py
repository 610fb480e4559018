"""Export on the tiny-random checkpoint: every ONNX precision, parity, recall in the manifest, the CLI, zip."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from memo_cli import memo

from memo_edge.errors import MemoError
from memo_edge.pack import Pack
from memo_edge.prompt import MemoryPrompt

REFLECTIONS = [
    {"id": f"r{i}", "question": q, "answer": a, "type": "direct"}
    for i, (q, a) in enumerate(
        [
            ("Who founded Lumen Works?", "Ada Varga"),
            ("Where is the Orchard Lab?", "in Tallinn"),
            ("When did the Kestrel project start?", "in 2019"),
            ("What does Brightwell make?", "glass lenses"),
            ("Who leads the river council?", "Mira Holt"),
            ("What colour is the Vessel?", "green"),
        ]
    )
]


@pytest.fixture(scope="module")
def ckpt(tiny_dir, tmp_path_factory) -> Path:
    """tiny-random plus the files training writes: memory_prompt.json, memo_train.json, reflections."""
    d = tmp_path_factory.mktemp("ckpt") / "checkpoint"
    shutil.copytree(tiny_dir, d)
    prompt = MemoryPrompt.chatml(system="You are the test memory.")
    (d / "memory_prompt.json").write_text(prompt.model_dump_json())
    refl = d.parent / "reflections.jsonl"
    refl.write_text("".join(json.dumps(r) + "\n" for r in REFLECTIONS))
    (d / "memo_train.json").write_text(
        json.dumps(
            {
                "base_model": "tiny-random",
                "corpus_fingerprint": "abc123",
                "reflections_path": str(refl),
                "reflection_counts": {"direct": 6},
                "train_config": {"epochs": 1},
                "metrics": {"loss": 1.0},
                "history": [{"epoch": 1, "train_loss": 2.0}],
            }
        )
    )
    return d


@pytest.fixture(scope="module")
def packs(ckpt, tmp_path_factory):
    """One export per precision, shared by the tests below (built on first use)."""
    from memo_edge.export import export_pack

    root = tmp_path_factory.mktemp("packs")
    built: dict[str, Path] = {}

    def get(precision: str) -> Path:
        if precision not in built:
            built[precision] = export_pack(ckpt, root / precision, precision=precision, heldout=6, progress=False)
        return built[precision]

    return get


def test_fp32_pack_matches_torch_and_describes_itself(packs, ckpt):
    pack = Pack.open(packs("fp32"))
    m = pack.manifest
    assert m.kind == "onnx" and m.precision == "fp32"
    parity = m.metrics["verify"]["parity"]
    assert parity["all_equal"] and parity["prompts"] == 4
    assert all(r["torch_tokens"] == r["pack_tokens"] for r in parity["rows"])
    # the prompt training used, not one derived from the chat template
    assert m.prompt.system == "You are the test memory."
    assert m.provenance["corpus_fingerprint"] == "abc123" and m.provenance["reflection_counts"] == {"direct": 6}
    assert m.provenance["base_model"] == "tiny-random" and "history" not in m.provenance
    # a pack is shared: names, not the building machine's paths
    assert m.provenance["reflections_path"] == "reflections.jsonl" and m.provenance["checkpoint"] == "checkpoint"
    assert "/" not in json.dumps(m.provenance).replace("\\/", ""), m.provenance
    assert m.model.num_layers == 2 and m.model.hidden_size == 128 and m.model.num_key_value_heads == 2
    assert m.special_tokens.stop_token_ids == [2] and m.special_tokens.eos_token_id == 2
    assert m.providers_tested == ["CPUExecutionProvider"]
    assert m.onnx_io.past_key == "past_key_values.%d.key"
    on_disk = {p.name for p in pack.root.iterdir()} - {"manifest.json"}
    assert (
        set(m.sha256) == on_disk and {"model.onnx", "model.onnx.data", "tokenizer.json", "genai_config.json"} <= on_disk
    )
    assert m.metrics["onnxruntime_genai"]["status"] == "ok"
    genai = json.loads((pack.root / "genai_config.json").read_text())
    assert genai["model"]["eos_token_id"] == 2
    assert m.metrics["recall"]["n"] == 6 and "fp32" in m.metrics["recall"]


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["int8", "int4"])
def test_quantized_packs_record_recall_against_fp32(packs, precision):
    m = Pack.open(packs(precision)).manifest
    rec = m.metrics["recall"]
    assert set(rec) >= {"n", "fp32", precision, "agreement_with_fp32"}
    # Measured here: int8 gives the same 48-token answer as torch fp32 on all 6 held-out questions; int4 on none
    # (tiny-random's flat logits make int4 drift within 48 tokens, so no threshold for it here: its check is the
    # matching prefix below).
    assert rec["n"] == 6
    if precision == "int8":
        assert rec["agreement_with_fp32"] >= 5 / 6, rec
    assert m.metrics["verify"]["status"] == "ok"
    # parity rows are recorded for quantized packs too; within tolerance = greedy tokens follow fp32 torch for a
    # good while (tiny-random's flat logits make long runs diverge: int4 after ~30 tokens)
    rows = m.metrics["verify"]["parity"]["rows"]
    assert len(rows) == 4
    assert min(r["matching_prefix"] for r in rows) >= {"int8": 12, "int4": 8}[precision]


def test_quantized_packs_are_smaller(packs):
    size = {p: Pack.open(packs(p)).manifest.metrics["export"]["size_bytes"] for p in ("fp32", "int8", "int4")}
    assert size["int4"] < size["int8"] < size["fp32"]
    # int4 quantizes the tied embedding/lm_head too: no fp32 copy of the 49k x 128 matrix remains
    assert size["int4"] < 49152 * 128 * 4


def test_int8_embedding_shares_the_lm_head_weights(packs):
    """No second (fp32 or int8) copy of the 49k x 128 tied matrix: the embedding reads the lm_head's 8-bit blocks."""
    import onnx

    m = Pack.open(packs("int8")).manifest
    assert m.metrics["export"]["embedding"] == "shared_q8"
    g = onnx.load(str(packs("int8") / "model.onnx"), load_external_data=False).graph
    big = [t.name for t in g.initializer if 49152 in t.dims]
    assert sorted(big) == ["lm_head.MatMul.weight_Q8", "lm_head.MatMul.weight_scales"]
    assert (packs("int8") / "model.onnx.data").stat().st_size < 49152 * 128 * 1.5


def test_int8_embedding_fallback_keeps_the_graph_working(packs, tmp_path):
    """A graph whose lm_head is not 8-bit MatMulNBits (here: fp32) takes the dynamic-quantization fallback,
    which must leave a graph that still answers the same."""
    from memo_edge.export.engine_graph import ENGINE_GRAPH, write_engine_graph
    from memo_edge.export.int8_embedding import share_embedding
    from memo_edge.runtime import Engine

    src = Pack.open(packs("fp32"))
    root = Path(shutil.copytree(src.root, tmp_path / "p"))
    with pytest.raises(MemoError, match="before the engine graph"):  # the passes' order is checked, not assumed
        share_embedding(root)
    (root / ENGINE_GRAPH).unlink()  # then the passes in build_onnx's order
    assert share_embedding(root) == "dynamic_int8"
    assert write_engine_graph(root) == "full"
    prompt = [src.manifest.prompt.render("Who founded Lumen Works?")]
    before = Engine(src).generate(prompt, max_new_tokens=8, stop_token_ids=[])[0].token_ids
    after = Engine(Pack(root, src.manifest)).generate(prompt, max_new_tokens=8, stop_token_ids=[])[0].token_ids
    assert after == before


def test_quantized_pack_answers_through_runtime(packs):
    from memo_edge.runtime import Engine

    eng = Engine(packs("int4"))
    m = eng.manifest
    out = eng.generate([m.prompt.render("Who founded Lumen Works?")], max_new_tokens=5)
    assert len(out[0].token_ids) == 5 or out[0].finish_reason == "stop"


@pytest.mark.slow
def test_fp16_pack_builds_for_cuda(ckpt, tmp_path):
    from memo_edge.export import export_pack

    out = export_pack(ckpt, tmp_path / "fp16", precision="fp16", heldout=0, progress=False)
    m = Pack.open(out).manifest
    assert m.precision == "fp16"
    v = m.metrics["verify"]
    # CPU onnxruntime may lack fp16 kernels for the fused ops; then the check says why instead of pretending
    assert v["status"] == "ok" or (v["status"] == "skipped" and v["reason"])


@pytest.mark.slow
def test_cli_export_zip_round_trip(ckpt, tmp_path):
    out = tmp_path / "cli-pack"
    proc = memo("export", str(ckpt), "-o", str(out), "--precision", "int4", "--no-verify", "--zip")
    assert proc.returncode == 0, proc.stderr
    z = Path(proc.stdout.strip().splitlines()[-1])
    assert z.suffix == ".memopack" and z.is_file() and out.is_dir()
    m = Pack.open(z).manifest
    assert m.precision == "int4" and "verify" not in m.metrics
    assert m.sha256 == Pack.open(out).manifest.sha256


@pytest.mark.slow
def test_cli_bad_precision_is_one_line(ckpt, tmp_path):
    proc = memo("export", str(ckpt), "-o", str(tmp_path / "p"), "--format", "gguf", "--precision", "int4")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "q8_0" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p").exists()


def test_config_maps_precision_names():
    from memo_edge.export import ExportConfig

    assert ExportConfig(format="gguf", precision="int8").precision == "q8_0"
    with pytest.raises(ValueError):
        ExportConfig(format="onnx", precision="q8_0")
    with pytest.raises(MemoError, match="precision"):
        from memo_edge.export.api import make_config

        make_config("onnx", "int3", True)


def test_mlc_without_mlc_llm_says_how_to_install(tiny_dir, tmp_path):
    import importlib.util

    if importlib.util.find_spec("mlc_llm") is not None:
        pytest.skip("mlc_llm is installed here")
    from memo_edge.export import export_pack

    with pytest.raises(MemoError, match="mlc.ai/wheels") as e:
        export_pack(tiny_dir, tmp_path / "mlc", format="mlc", precision="q4f16_1", progress=False)
    assert "\n" not in str(e.value) and not (tmp_path / "mlc").exists()


def test_mlc_conversation_template_renders_the_memory_prompt():
    """Render MLC's template the way MLC does (system, role + sep + message, role + empty sep)."""
    from memo_edge.export.mlc_pack import conv_template

    p = MemoryPrompt.chatml(system="You are the test memory.")
    t = conv_template(p, [2])
    rendered = (
        t["system_template"].replace("{system_message}", t["system_message"])
        + t["roles"]["user"]
        + t["role_content_sep"]
        + "Q?"
        + t["seps"][0]
        + t["roles"]["assistant"]
        + t["role_empty_sep"]
    )
    assert rendered == p.render("Q?") and t["stop_token_ids"] == [2]
    odd = MemoryPrompt(prefix="Q: ", suffix="\nA: ", answer_end="\n", stop=["\n"], system="")
    with pytest.raises(MemoError, match="ChatML"):
        conv_template(odd, [2])


def test_reference_answers_end_at_multi_token_stop_strings():
    from memo_edge.export.verify import cut_at_stops

    assert cut_at_stops(" Ada Varga\nQ: who else", ["\nQ:"]) == "Ada Varga"
    assert cut_at_stops("Paris", ["<|im_end|>"]) == "Paris"


def test_fp32_parity_tolerates_only_near_ties(tiny_dir):
    from memo_edge.export.verify import TorchReference, near_tie

    ref = TorchReference(tiny_dir, tiny_dir / "tokenizer.json")
    prompt = MemoryPrompt.chatml().render("Who founded Lumen Works?")
    margin = ref.top2_margin(prompt, ref.greedy(prompt, 3)[:2])
    assert margin >= 0
    assert near_tie({"equal": False, "torch_top2_margin": 1e-5})
    assert not near_tie({"equal": False, "torch_top2_margin": 0.5})
    assert not near_tie({"equal": True})


@pytest.mark.slow
def test_the_export_prints_its_recall_figures(ckpt, tmp_path, capsys):
    from memo_edge.export import export_pack  # as the other tests here: the [export] extra is imported late

    export_pack(ckpt, tmp_path / "pack", precision="fp32", heldout=6, progress=True)
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if "recall on 6 sampled training reflections:" in ln)
    assert "EM " in line and "F1 " in line and "(fp32)" in line, err[-2000:]
    assert "held-out" not in err
