"""LoRA: merged weights == base + adapter; continual updates with replay; task-vector merging of two memories."""

from __future__ import annotations

import json

import numpy as np
import pytest

from test_training import qa_rows, write_rows

pytestmark = pytest.mark.slow  # every test here trains a model


def test_lora_merged_checkpoint_equals_base_plus_adapter(tiny_dir, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from memo_edge.training import TrainConfig, train

    refl = write_rows(tmp_path / "r.jsonl", qa_rows(12))
    out = tmp_path / "ck"
    m = train(refl, out, TrainConfig(preset="tiny-lora", base=str(tiny_dir), epochs=3, lora_r=8), progress=False)
    assert (out / "adapter" / "adapter_config.json").is_file() and (out / "model.safetensors").is_file()
    prov = json.loads((out / "memo_train.json").read_text())
    assert prov["method"] == "lora" and prov["merged"] and m["steps"] > 0
    merged = AutoModelForCausalLM.from_pretrained(str(out)).eval()
    with_adapter = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(str(tiny_dir)), str(out / "adapter")
    ).eval()
    base = AutoModelForCausalLM.from_pretrained(str(tiny_dir)).eval()
    ids = torch.tensor([[1, 520, 4012, 28, 9001, 314, 2, 77, 640]])
    with torch.no_grad():
        a, b, c = (m_(input_ids=ids).logits for m_ in (merged, with_adapter, base))
    assert torch.allclose(a, b, atol=1e-4), (a - b).abs().max()
    assert not torch.allclose(a, c, atol=1e-3), "training changed nothing"


def test_continual_update_with_replay_reports_old_set_recall(tiny_dir, tmp_path):
    from memo_edge.training import TrainConfig, train

    old = write_rows(tmp_path / "old.jsonl", qa_rows(12))
    first = tmp_path / "v1"
    train(old, first, TrainConfig(preset="tiny", base=str(tiny_dir), epochs=25), progress=False)
    new_rows = [
        {"id": f"n{i}", "question": f"What colour is the Wrenlet R{i} robot?", "answer": c}
        for i, c in enumerate(["amber", "teal", "crimson", "ochre", "violet", "slate", "rust", "jade"])
    ]
    new = write_rows(tmp_path / "new.jsonl", new_rows)
    m = train(
        new,
        tmp_path / "v2",
        TrainConfig(preset="tiny", base=str(tiny_dir), init_from=str(first), replay=0.5, epochs=4),
        progress=False,
    )
    assert m["old_recall_before"]["em"] >= 0.8
    # Measured on this setup (seeded, the same on every run here): 15 of the 18 old reflections still recalled
    # (0.83) after 4 epochs on the new set with half the old set replayed; without replay 0.78. Two misses of margin.
    assert m["old_recall_after"]["em"] >= 0.7, m["old_recall_after"]
    prov = json.loads((tmp_path / "v2" / "memo_train.json").read_text())
    assert prov["counts"]["replayed"] == 9  # half of the 18 old reflections
    assert prov["root_base_dir"] == str(tiny_dir)
    kept = (tmp_path / "v2" / "train_reflections.jsonl").read_text()
    assert "Wrenlet R3" in kept and "Where was Ysolde Marrick born?" in kept  # the memory's full knowledge set


def test_replay_needs_init_from():
    from pydantic import ValidationError

    from memo_edge.training import TrainConfig

    with pytest.raises(ValidationError, match="init_from"):
        TrainConfig(replay=0.2)


def ties_reference(taus: list[np.ndarray], density: float) -> tuple[np.ndarray, np.ndarray]:
    """TIES as Yadav et al. 2023 define it, written apart from peft (numpy, sorting): keep each task vector's
    k = int(size x density) largest-magnitude entries, elect the sign of their sum per entry (+ on a tie), and
    average the kept entries that carry it. Also returns where an entry's magnitude equals a vector's k-th largest:
    which of equal entries make the cut is the sort's choice, so the merge may differ there (and only there)."""
    kept, tied = [], np.zeros(taus[0].shape, dtype=bool)
    for t in taus:
        k = int(t.size * density)
        order = np.argsort(-np.abs(t), axis=None, kind="stable")[:k]
        mask = np.zeros(t.size, dtype=bool)
        mask[order] = True
        kept.append(np.where(mask.reshape(t.shape), t, 0.0))
        tied |= np.abs(t) == np.abs(t.reshape(-1)[order[-1]])
    kept = np.stack(kept)
    elected = np.where(kept.sum(axis=0) >= 0, 1.0, -1.0)
    agree = np.sign(kept) == elected
    return (kept * agree).sum(axis=0) / np.maximum(agree.sum(axis=0), 1), tied


def test_ties_and_linear_merge_of_two_memories(tiny_dir, tmp_path):
    import torch
    from safetensors.torch import load_file

    from memo_edge.errors import MemoError
    from memo_edge.training import TrainConfig, merge, train
    from memo_edge.training.merge import merge_state_dicts

    rows = qa_rows(16)
    a = write_rows(tmp_path / "a.jsonl", rows[:12])
    b = write_rows(tmp_path / "b.jsonl", rows[12:])
    cfg = TrainConfig(preset="tiny", base=str(tiny_dir), epochs=3, idk_fraction=0, heldout_fraction=0)
    train(a, tmp_path / "A", cfg, progress=False)
    train(b, tmp_path / "B", cfg, progress=False)
    res = merge([tmp_path / "A", tmp_path / "B"], tmp_path / "M", method="ties", density=0.3)
    assert set(res["recall"]) == {str(tmp_path / "A"), str(tmp_path / "B")}
    assert all(v["n"] == 12 for v in res["recall"].values())
    lin = merge([tmp_path / "A", tmp_path / "B"], tmp_path / "L", method="linear")
    base = load_file(str(tiny_dir / "model.safetensors"))
    wa, wb, wm, wl = (load_file(str(tmp_path / d / "model.safetensors")) for d in ("A", "B", "M", "L"))
    assert set(wm) == set(wl) == set(base)
    differ = 0
    for k in base:  # every tensor, the 6.3M-entry embedding included
        a_, b_, base_ = (w[k].float().numpy() for w in (wa, wb, base))  # float32, as merge.py subtracts
        ref, tied = ties_reference([a_ - base_, b_ - base_], 0.3)
        off = ~np.isclose(wm[k].numpy(), ref + base_, atol=1e-6, rtol=1e-6)
        assert not (off & ~tied).any(), (k, np.argwhere(off & ~tied)[:5])  # any difference is a tie at the cut
        differ += int(off.sum())
        np.testing.assert_allclose(wl[k].numpy(), (a_ + b_) / 2, atol=1e-6)
    assert differ <= 10, differ  # ties at the cut are rare (the earlier reference saw 1 of 6.3M)
    assert lin["method"] == "linear" and (tmp_path / "M" / "memory_prompt.json").is_file()
    # TIES on hand-made vectors: trimmed, sign-elected, disjoint mean.
    t1 = torch.tensor([3.0, -1.0, 0.1, 2.0])
    t2 = torch.tensor([1.0, 2.0, 0.0, -4.0])
    merged = merge_state_dicts({"w": torch.zeros(4)}, [{"w": t1}, {"w": t2}], "ties", 0.5, [1.0, 1.0])["w"]
    assert merged.tolist() == [3.0, 2.0, 0.0, -4.0]
    with pytest.raises(MemoError, match="different bases"):
        other = tmp_path / "O"
        train(a, other, cfg.model_copy(update={"base": str(tmp_path / "A")}), progress=False)
        merge([tmp_path / "A", other], tmp_path / "X")
