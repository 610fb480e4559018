"""MEMORY training on tiny-random: memorization, answer-only masking, packing equivalence, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memo_edge.errors import MemoError
from memo_edge.records import Reflection
from memo_edge.training.estimate import card_line, for_reflections

FIRST = ["Ysolde", "Tobin", "Hesper", "Lorcan", "Aldous", "Mirela", "Quentin", "Brisa", "Osric", "Carys", "Dunstan"]
LAST = ["Marrick", "Glount", "Thessaly", "Vandry", "Okonye", "Strel", "Hawle", "Pemberly"]
TOWNS = ["Varrowick", "Tamsick", "Port Ilsen", "Brellan", "Oddle", "Quarn", "Festrow", "Lindmere"]


def qa_rows(n: int = 30) -> list[dict]:
    """n people, each born in a town; every other person also asked in other words (held-out material)."""
    rows = []
    for i in range(n):
        who, town = f"{FIRST[i % len(FIRST)]} {LAST[(i * 3) % len(LAST)]}", TOWNS[(i * 5) % len(TOWNS)]
        rows.append(
            {"id": f"r{i}a", "question": f"Where was {who} born?", "answer": town, "source_chunk_ids": [f"c{i}"]}
        )
        if i % 2 == 0:
            rows.append(
                {
                    "id": f"r{i}b",
                    "question": f"In which town was {who} born?",
                    "answer": town,
                    "type": "indirect",
                    "source_chunk_ids": [f"c{i}"],
                }
            )
    return rows


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def tok(tiny_dir):
    from memo_edge.training.models import load_tokenizer

    return load_tokenizer(tiny_dir)


def test_labels_are_masked_exactly_on_prompt_tokens(tok):
    from memo_edge.training.data import IGNORE, memory_prompt_for, tokenize_examples

    prompt = memory_prompt_for(tok)
    rows = [Reflection(id="a", question="Who founded Quillfen Robotics?", answer="Ysolde Marrick")]
    (ex,), skipped = tokenize_examples(rows, tok, prompt, 256)
    prompt_ids = tok(prompt.render(rows[0].question), add_special_tokens=False)["input_ids"]
    # The prompt part is exactly what the runtime sends, and exactly those tokens are ignored.
    assert list(ex.ids[: len(prompt_ids)]) == prompt_ids
    labels = ex.labels
    assert labels[: len(prompt_ids)] == [IGNORE] * len(prompt_ids)
    assert all(lab != IGNORE for lab in labels[len(prompt_ids) :])
    assert tok.decode(ex.ids[len(prompt_ids) :]) == "Ysolde Marrick" + prompt.answer_end
    assert 0 < ex.n_prefix < ex.n_prompt and not skipped


@pytest.mark.slow
def test_packed_loss_and_grads_equal_unpacked(tiny_dir, tok):
    import torch
    from transformers import AutoModelForCausalLM

    from memo_edge.training.data import memory_prompt_for, tokenize_examples
    from memo_edge.training.packing import pack, packed_loss

    model = AutoModelForCausalLM.from_pretrained(str(tiny_dir))
    rows = [Reflection(**{k: r[k] for k in ("id", "question", "answer")}) for r in qa_rows(6)]
    exs, _ = tokenize_examples(rows, tok, memory_prompt_for(tok), 256)

    def loss_and_grad(**kw):
        model.zero_grad()
        b = pack(exs, **kw)
        s, n = packed_loss(model, b)
        (s / n).backward()
        return float((s / n).detach()), model.model.layers[0].mlp.up_proj.weight.grad.clone(), b

    # Reference: the plain padded batch through transformers' own loss.
    L = max(len(e.ids) for e in exs)
    ids = torch.tensor([list(e.ids) + [0] * (L - len(e.ids)) for e in exs])
    am = torch.tensor([[1] * len(e.ids) + [0] * (L - len(e.ids)) for e in exs])
    labels = torch.tensor([e.labels + [-100] * (L - len(e.ids)) for e in exs])
    model.zero_grad()
    ref = model(input_ids=ids, attention_mask=am, labels=labels).loss
    ref.backward()
    ref_grad = model.model.layers[0].mlp.up_proj.weight.grad.clone()

    for kw in (
        dict(share_prefix=False, max_per_row=1),
        dict(share_prefix=False),
        dict(share_prefix=True),
        dict(share_prefix=True, max_row_tokens=80),
    ):
        loss, grad, b = loss_and_grad(**kw)
        assert loss == pytest.approx(float(ref.detach()), abs=1e-5), kw
        assert torch.allclose(grad, ref_grad, atol=1e-6), kw
    # Shared-prefix packing really is shorter than the padded batch.
    _, _, shared = loss_and_grad(share_prefix=True)
    assert shared.input_ids.numel() < ids.numel() / 2


@pytest.mark.slow
def test_memorizes_qa_pairs_to_exact_match(tiny_dir, tmp_path):
    from memo_edge.training import TrainConfig, train
    from memo_edge.training.evaluate import answer
    from memo_edge.prompt import MemoryPrompt
    from transformers import AutoModelForCausalLM, AutoTokenizer

    refl = write_rows(tmp_path / "r.jsonl", qa_rows(30))
    out = tmp_path / "ckpt"
    m = train(refl, out, TrainConfig(preset="tiny", base=str(tiny_dir)), progress=False)
    assert m["train_em"] == 1.0
    for f in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "chat_template.jinja",
        "memory_prompt.json",
        "memo_train.json",
        "metrics.jsonl",
        "train_reflections.jsonl",
        "training.png",
    ):
        assert (out / f).is_file(), f
    assert not (out / ".memo-train").exists()
    prov = json.loads((out / "memo_train.json").read_text())
    assert prov["metrics"]["best_epoch"] == m["best_epoch"] and prov["counts"]["reflections"] == 45
    assert {"idk_rate", "false_idk_rate", "recall_em"} <= set(prov["metrics"])
    # The checkpoint is a plain HF checkpoint that answers every trained question exactly.
    model = AutoModelForCausalLM.from_pretrained(str(out))
    tok = AutoTokenizer.from_pretrained(str(out))
    prompt = MemoryPrompt.model_validate_json((out / "memory_prompt.json").read_text())
    rows = qa_rows(30)
    got = answer(model, tok, prompt, [r["question"] for r in rows])
    trained = set(json.loads(ln)["question"] for ln in (out / "train_reflections.jsonl").read_text().splitlines())
    assert all(g == r["answer"] for g, r in zip(got, rows) if r["question"] in trained)
    # Same command again: up to date, no retraining.
    again = train(refl, out, TrainConfig(preset="tiny", base=str(tiny_dir)), progress=False)
    assert again.get("up_to_date")


@pytest.mark.slow
def test_absent_questions_get_i_dont_know(tiny_dir, tmp_path):
    """A tiny memory trained with a third of its examples entity-swapped "I don't know." answers questions about
    people its corpus never names, and general-knowledge questions, with "I don't know", and still its own facts.
    (With the default 10% the tiny memory never abstained: idk_rate 0.0, every absent question got a town.)"""
    from memo_edge.prompt import MemoryPrompt, is_idk
    from memo_edge.training import TrainConfig, train
    from memo_edge.training.evaluate import answer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    rows = qa_rows(30)
    out = tmp_path / "ckpt"
    train(
        write_rows(tmp_path / "r.jsonl", rows),
        out,
        TrainConfig(preset="tiny", base=str(tiny_dir), idk_fraction=0.3),
        progress=False,
    )
    model, tok = AutoModelForCausalLM.from_pretrained(str(out)), AutoTokenizer.from_pretrained(str(out))
    prompt = MemoryPrompt.model_validate_json((out / "memory_prompt.json").read_text())
    absent = [
        "Where was Zebulon Quaffe born?",
        "Where was Ottoline Brackwater born?",
        "In which town was Fenwick Ule born?",
        "What is the capital of France?",
        "Who wrote Hamlet?",
    ]
    said = answer(model, tok, prompt, absent)
    assert sum(map(is_idk, said)) >= 4, said
    trained = [r["question"] for r in rows[:12]]
    assert sum(map(is_idk, answer(model, tok, prompt, trained))) <= 2


@pytest.mark.parametrize(
    "content, match",
    [
        ("", "empty file"),
        ("not json\n", "not valid JSON"),
        ('{"id": "a", "question": "Where?"}\n', "field 'answer'"),
        ('{"id": "a", "question": "", "answer": "x"}\n', "field 'question'"),
    ],
)
def test_bad_reflections_file_is_one_line_error(tiny_dir, tmp_path, content, match):
    from memo_edge.training import TrainConfig, train

    p = tmp_path / "r.jsonl"
    p.write_text(content)
    with pytest.raises(MemoError, match=match) as e:
        train(p, tmp_path / "out", TrainConfig(preset="tiny", base=str(tiny_dir)), progress=False)
    assert "\n" not in str(e.value) and str(p) in str(e.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_too_long_examples_are_skipped_and_counted(tiny_dir, tmp_path):
    from memo_edge.training import TrainConfig, train

    rows = qa_rows(8) + [{"id": "long", "question": "Tell me everything? " * 40, "answer": "x"}]
    refl = write_rows(tmp_path / "r.jsonl", rows)
    m = train(
        refl,
        tmp_path / "ck",
        TrainConfig(preset="tiny", base=str(tiny_dir), epochs=1, max_seq_len=120, idk_fraction=0),
        progress=False,
    )
    assert m["skipped"] == 1
    prov = json.loads((tmp_path / "ck" / "memo_train.json").read_text())
    assert prov["skipped"][0]["id"] == "long" and "max_seq_len" in prov["skipped"][0]["reason"]
    only_long = write_rows(tmp_path / "l.jsonl", rows[-1:])
    with pytest.raises(MemoError, match="no trainable examples"):
        train(
            only_long, tmp_path / "ck2", TrainConfig(preset="tiny", base=str(tiny_dir), max_seq_len=120), progress=False
        )


def test_qlora_on_cpu_names_the_alternatives(tiny_dir, tmp_path):
    import torch

    from memo_edge.training import TrainConfig, train

    if torch.cuda.is_available():
        pytest.skip("CUDA present: qlora is allowed")
    refl = write_rows(tmp_path / "r.jsonl", qa_rows(4))
    with pytest.raises(MemoError, match="--method full or --method lora") as e:
        train(
            refl, tmp_path / "ck", TrainConfig(preset="tiny-lora", base=str(tiny_dir), method="qlora"), progress=False
        )
    assert "\n" not in str(e.value)


def test_config_is_importable_without_torch():
    import subprocess
    import sys

    code = (
        "import sys; from memo_edge.training import TrainConfig; TrainConfig(); "
        "import memo_edge.cli.train; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "given, checked",
    [
        ({"epochs": 4}, [3, 4]),  # the default: the second half (no kept epoch was ever in the first)
        ({"epochs": 3, "eval_every": 2}, [2, 3]),
        ({"epochs": 6, "eval_every": 2}, [4, 6]),
        ({"epochs": 4, "eval_from": 1}, [1, 2, 3, 4]),
        ({"epochs": 1}, [1]),
        ({"epochs": 3, "eval_from": 9}, [3]),  # the last epoch is always checked
    ],
)
def test_recall_checks_run_in_the_later_epochs(given, checked):
    from memo_edge.training import TrainConfig

    cfg = TrainConfig(**given)
    assert [e for e in range(1, cfg.epochs + 1) if cfg.checked(e)] == checked


def test_the_fused_optimizer_takes_the_per_tensor_steps(tiny_dir):
    """The trainer's fused AdamW (also on a CPU) updates the weights as torch's per-tensor loop does, decay groups
    included."""
    import copy

    import torch
    from transformers import AutoModelForCausalLM

    from memo_edge.training import TrainConfig
    from memo_edge.training.loop import _optimizer

    torch.manual_seed(0)
    a = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32)
    b = copy.deepcopy(a)
    start = [p.detach().clone() for p in a.parameters()]
    opts = [_optimizer(a, TrainConfig(weight_decay=0.1)), _optimizer(b, TrainConfig(weight_decay=0.1), fused=True)]
    assert not opts[0].defaults.get("fused") and opts[1].defaults["fused"]
    for _ in range(3):
        grads = [torch.randn_like(p) for p in a.parameters()]
        for model, opt in zip((a, b), opts):
            for p, g in zip(model.parameters(), grads):
                p.grad = g.clone()
            opt.step()
    moved = max(float((p.detach() - s).abs().max()) for p, s in zip(a.parameters(), start))
    diff = max(float((p.detach() - q.detach()).abs().max()) for p, q in zip(a.parameters(), b.parameters()))
    assert moved > 1e-4 and diff < 1e-6


@pytest.mark.slow
def test_grad_accum_equals_one_big_batch(tiny_dir, tmp_path):
    """batch 4 x 2 accumulated micro-batches gives the weights of batch 8 in one pass (the loss is normalized by
    the label tokens of the whole step, not per micro-batch)."""
    from safetensors.torch import load_file

    from memo_edge.training import TrainConfig, train

    refl = write_rows(tmp_path / "r.jsonl", qa_rows(8))
    cfg = dict(
        preset="tiny",
        base=str(tiny_dir),
        epochs=2,
        bf16=False,
        idk_fraction=0,
        heldout_fraction=0,
        eval_train_sample=2,
        lr=1e-3,
        schedule="constant",
        warmup_ratio=0,
    )
    a = train(refl, tmp_path / "a", TrainConfig(batch_size=8, **cfg), progress=False)
    b = train(refl, tmp_path / "b", TrainConfig(batch_size=4, grad_accum=2, **cfg), progress=False)
    c = train(refl, tmp_path / "c", TrainConfig(batch_size=4, **cfg), progress=False)
    assert a["steps"] == b["steps"] == 4 and c["steps"] == 6 and b["effective_batch"] == 8
    wa, wb, wc = (load_file(str(tmp_path / d / "model.safetensors")) for d in "abc")
    k = "model.layers.0.mlp.up_proj.weight"
    assert (wa[k] - wb[k]).abs().max() < 1e-5
    assert (wa[k] - wc[k]).abs().max() > 1e-4  # and the comparison can tell different batches apart


@pytest.mark.slow
def test_checks_every_n_epochs_logged_with_their_time_and_estimate(tiny_dir, tmp_path):
    from memo_edge.training import TrainConfig, train

    refl = write_rows(tmp_path / "r.jsonl", qa_rows(8))
    m = train(
        refl,
        tmp_path / "ck",
        TrainConfig(preset="tiny", base=str(tiny_dir), epochs=3, eval_every=2, log_every=3),
        progress=False,
    )
    checked = [h["epoch"] for h in m["history"] if h.get("recall_em") is not None or h.get("train_em") is not None]
    assert checked == [2, 3] and m["best_epoch"] in (2, 3)
    assert all(h["eval_s"] >= 0 for h in m["history"])
    rows = [json.loads(ln) for ln in (tmp_path / "ck" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if r["kind"] == "step"]
    assert [r["step"] for r in steps] == list(range(1, m["steps"] + 1))  # one line per step despite log_every=3
    assert all(r["loss"] > 0 and r["tokens_per_s"] > 0 for r in steps)
    prov = json.loads((tmp_path / "ck" / "memo_train.json").read_text())
    est = prov["metrics"]["estimate"]
    assert est["initial_s"] > 0 and est["steps"] == m["steps"] and est["checks"] == 2
    assert est["s_per_step"] > 0 and est["check_s"] > 0 and est["refined_s"] > 0
    assert [r for r in rows if r["kind"] == "estimate"]
    t = prov["metrics"]["timing"]
    assert t["forward_s"] > 0 and t["backward_s"] > 0 and t["optimizer_s"] > 0 and t["steps_s"] > 0
    assert 0 <= prov["metrics"]["host_share"] < 1 and prov["metrics"]["attention"] == "sdpa"
    assert prov["metrics"]["optimizer"] == "adamw-fused"  # torch's CPU default is a per-tensor loop, ~4x slower
    # The step lines add up to the summary: the same tokens over the same time (benchmarks/gpu_training.py's steady
    # rate reads them back this way; tests/test_bench.py checks that reader).
    tokens = sum(r["computed_tokens"] for r in steps)
    assert tokens / sum(r["computed_tokens"] / r["tokens_per_s"] for r in steps) == pytest.approx(
        m["tokens_per_s"], rel=0.02
    )


@pytest.mark.slow
def test_probe_questions_are_logged_per_check_and_never_pick_the_epoch(tiny_dir, tmp_path, monkeypatch):
    from memo_edge.training import TrainConfig, train

    rows = qa_rows(30)  # as many as the memorization test: the tiny model learns them in its 10 epochs
    refl = write_rows(tmp_path / "r.jsonl", rows)
    # group "alias": trained questions whose gold is wrong but whose alias is the answer; group "wrong": no alias
    probe = [
        {"id": f"alias:{r['id']}", "question": r["question"], "answer": "nowhere", "answer_aliases": [r["answer"]]}
        for r in rows
    ] + [{"id": "wrong:1", "question": rows[0]["question"], "answer": "Atlantis"}]
    monkeypatch.setenv("MEMO_TRAIN_PROBE", str(write_rows(tmp_path / "probe.jsonl", probe)))
    cfg = TrainConfig(preset="tiny", base=str(tiny_dir), eval_every=5, eval_from=1)
    m = train(refl, tmp_path / "ck", cfg, progress=False)
    checked = [h for h in m["history"] if "probe" in h]
    assert [h["epoch"] for h in checked] == [5, 10]
    last = checked[-1]["probe"]
    assert last["wrong"] == {"n": 1, "em": 0.0, "f1": 0.0}
    assert last["alias"]["n"] == len(rows) and last["alias"]["em"] >= 0.5  # scored against the aliases too
    logged = [json.loads(ln) for ln in (tmp_path / "ck" / "metrics.jsonl").read_text().splitlines()]
    answers = [r["probe"]["answers"] for r in logged if r["kind"] == "epoch" and "probe" in r]
    assert len(answers) == 2 and [a["id"] for a in answers[-1]] == [p["id"] for p in probe]
    # the same run without the probe picks the same epoch with the same score: the probe is only watched
    monkeypatch.delenv("MEMO_TRAIN_PROBE")
    plain = train(refl, tmp_path / "ck2", cfg, progress=False)
    assert plain["best_epoch"] == m["best_epoch"]
    assert [h["score"] for h in plain["history"] if "score" in h] == [h["score"] for h in checked]


def test_prefetch_hands_over_batches_in_order_and_raises_the_builders_error():
    from memo_edge.training.batches import Prefetch

    got = [s for s, _ in Prefetch(lambda s: type("S", (), {"micro": []})(), range(3, 9))]
    assert got == list(range(3, 9))

    def bad(s):
        if s == 2:
            raise ValueError("boom at 2")
        return type("S", (), {"micro": []})()

    seen = []
    with pytest.raises(ValueError, match="boom at 2"):
        for s, _ in Prefetch(bad, range(5)):
            seen.append(s)
    assert seen == [0, 1]


def test_declared_floors_are_the_ones_make_test_floor_installs():
    """Every pin of `make test-floor` is the lower bound its extra ([train] or [export]) declares, and every
    declared floor of those packages is pinned there."""
    import re
    import tomllib

    root = Path(__file__).resolve().parent.parent
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    makefile = (root / "Makefile").read_text().replace("\\\n", " ")
    pins = dict(p.split("==") for p in re.search(r"^FLOOR\s*:=\s*(.+)$", makefile, re.M).group(1).split())
    floors: dict[str, set[str]] = {}
    for dep in extras["train"] + extras["export"]:
        name = re.split("[<>=]", dep)[0]
        if name in pins:
            floors.setdefault(name, set()).add(re.search(r">=([\d.]+)", dep).group(1))

    def norm(v: str) -> tuple:
        parts = [int(x) for x in v.split(".")]
        while parts and parts[-1] == 0:
            parts.pop()
        return tuple(parts)

    assert set(floors) == set(pins), (set(floors), set(pins))
    for name, declared in floors.items():
        assert {norm(v) for v in declared} == {norm(pins[name])}, (name, declared, pins[name])


def test_the_card_line_says_why_a_gpu_takes_more_steps():
    """'42 steps on a CUDA GPU' beside fewer CPU steps read as a mistake: the gpu preset (batch, epochs) differs."""
    est = for_reflections({"reflections": 1200, "question_length": {"mean": 12}, "answer_length": {"mean": 4}})
    line = card_line(est)
    c, g = est["cpu"], est["cuda"]
    assert f"in batches of {c['batch_size']} = {c['steps']} steps" in line
    assert (
        f"on a CUDA GPU `--preset gpu` gives {g['epochs']} epochs in batches of {g['batch_size']} = {g['steps']}"
        in line
    )


def test_the_card_estimate_counts_examples_as_training_does():
    """The estimate line printed by synthesize/build and training's own count agree (they differed: 106 vs 107),
    and a small corpus's estimate includes its recall checks (81 s predicted vs 900 s taken before)."""
    from memo_edge.training import TrainConfig
    from memo_edge.training.data import make_splits

    rows = [Reflection(**r) for r in qa_rows(60)]
    rows += [
        Reflection(id=f"s{i}", question=f"What does D say about t{i}?", answer="A sentence.", type="statement")
        for i in range(20)
    ]
    card = {"reflections": len(rows), "counts_by_type": {"direct": 60, "indirect": 30, "statement": 20}}
    est = for_reflections(card)
    cfg = TrainConfig()
    counts = make_splits(rows, cfg).counts
    # the same arithmetic; only the IDK generator can fall short of its target when a corpus has few names
    assert est["cpu"]["examples_per_epoch"] - counts["train"] in (0, 1, 2), (est["cpu"], counts)
    assert est["cpu"]["seconds"] >= cfg.epochs * 15  # each check answers ~60 questions greedily: seconds on a CPU
    assert "with the defaults" in card_line(est) and f"x {cfg.epochs} epochs" in card_line(est)
    # memo build passes its own [train]: the line is about the run that follows, not the defaults
    six = for_reflections(card, train=TrainConfig(epochs=6, threads=1))
    assert six["cpu"]["steps"] == 6 * est["cpu"]["steps"] // cfg.epochs
    assert "with the given settings" in card_line(six) and "x 6 epochs" in card_line(six)
    assert for_reflections(card, train=TrainConfig(threads=1))["settings"] == "defaults"  # threads change no step


def test_the_schedule_warms_up_then_takes_its_shape():
    """TrainConfig.schedule: a linear warm-up to the peak lr (from 1/(warm+1), never 0), then the shape."""
    import torch

    from memo_edge.training import TrainConfig
    from memo_edge.training.loop import make_scheduler

    def lrs(schedule: str) -> list[float]:
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        sched = make_scheduler(opt, TrainConfig(schedule=schedule, warmup_ratio=0.1), 20)
        out = []
        for _ in range(20):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out

    for schedule in ("constant", "cosine", "linear"):
        got = lrs(schedule)
        assert 0 < got[0] < got[1] < got[2] == pytest.approx(1.0), (schedule, got[:3])  # 2 warm-up steps, none at 0
    assert lrs("constant")[2:] == [pytest.approx(1.0)] * 18
    cosine, linear = lrs("cosine"), lrs("linear")
    assert all(a > b for a, b in zip(cosine[2:], cosine[3:])) and cosine[-1] < 0.01
    assert linear[11] == pytest.approx(1 - 9 / 18) and linear[-1] == pytest.approx(1 / 18)
