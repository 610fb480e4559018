"""Padding-free packing: several examples per row, each attending only to itself (and the shared prompt prefix).

Every memory example starts with the same prompt prefix (system turn + user header, ~35 of its ~60 tokens for
SmolLM2). A packed row holds that prefix ONCE, followed by the examples' bodies (question, assistant header,
answer). Each body token sees the prefix and the earlier tokens of its own body, at the positions it would have in
an unpacked sequence (prefix_len + k), so every logit is the same as in the unpacked example; the prefix's
activations are computed once per row instead of once per example. Logits are computed only where the next token
is a label (answer tokens), so the 49k-wide vocabulary projection runs on ~20% of the positions.

Document-text examples (training/text.py) have no prompt: in a shared-prefix row they are "standalone" bodies,
positions from 0, segment ids below -1, which see only themselves (never the prefix).

`share_prefix=False` gives classic packing (each example complete, positions restarting at 0); one example per row
with `max_per_row=1` gives the plain padded batch, used to test that all three give the same loss.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

import torch

from .data import IGNORE, Example


@dataclass
class PackedBatch:
    input_ids: torch.Tensor  # (rows, L)
    position_ids: torch.Tensor  # (rows, L)
    segments: torch.Tensor  # (rows, L): 0 shared prefix, 1.. example bodies, -1 padding, <= -2 standalone bodies
    keep_idx: torch.Tensor  # (n_labels,) flat (row-major) positions whose NEXT token is a label
    targets: torch.Tensor  # (n_labels,) the label tokens, in keep_idx order
    n_tokens: int  # real (non-pad) tokens
    n_examples: int
    shared_prefix: bool = True  # False: classic packing, each example complete with positions from 0

    @property
    def n_labels(self) -> int:
        return int(self.targets.numel())

    def attention_mask(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """(rows, 1, L, L): causal, within one segment, and every prompted body token sees the shared prefix.

        Built from the (rows, L) segment ids on whatever device they are on (the GPU in training: only the small
        id tensor crosses the bus, never the 4D mask). Padding tokens see themselves so no softmax row is empty (no
        NaNs); nothing real sees them. Bool (True = attend) for sdpa; a float dtype gives eager's additive mask.
        """
        seg = self.segments
        L = seg.shape[1]
        causal = torch.ones(L, L, dtype=torch.bool, device=seg.device).tril()
        same = seg[:, :, None] == seg[:, None, :]
        prefix = (seg[:, None, :] == 0) & (seg[:, :, None] >= 0)
        mask = (causal[None] & (same | prefix))[:, None]
        if dtype is None or dtype == torch.bool:
            return mask
        return torch.zeros(mask.shape, dtype=dtype, device=seg.device).masked_fill(~mask, torch.finfo(dtype).min)

    def pin_memory(self) -> "PackedBatch":
        return replace(self, **{k: getattr(self, k).pin_memory() for k in _TENSORS})

    def to(self, device, non_blocking: bool = False) -> "PackedBatch":
        return replace(self, **{k: getattr(self, k).to(device, non_blocking=non_blocking) for k in _TENSORS})


_TENSORS = ("input_ids", "position_ids", "segments", "keep_idx", "targets")


def _rows(examples: list[Example], share_prefix: bool, max_row_tokens: int, max_per_row: int) -> list[list]:
    """Greedy fill: each row is a list of (ids, labels, positions, segment) pieces."""
    rows, cur, cur_len, cur_n = [], [], 0, 0
    prefix_len = next((ex.n_prefix for ex in examples if ex.n_prefix), 0) if share_prefix else 0
    prefix = None
    for ex in examples:
        ids, labels = list(ex.ids), ex.labels
        standalone = share_prefix and not ex.n_prefix
        if share_prefix and not standalone:
            prefix = prefix or ids[:prefix_len]
            body = (ids[prefix_len:], labels[prefix_len:], list(range(prefix_len, len(ids))))
        else:
            body = (ids, labels, list(range(len(ids))))
        if cur and (cur_len + len(body[0]) > max_row_tokens or cur_n >= max_per_row):
            rows.append(cur)
            cur, cur_len, cur_n = [], 0, 0
        if not cur and share_prefix:
            cur.append(([], [], [], 0))  # the prefix, filled in below once an example has shown it
            cur_len = prefix_len
        cur.append((*body, -(cur_n + 2) if standalone else cur_n + 1))
        cur_len += len(body[0])
        cur_n += 1
    if cur:
        rows.append(cur)
    if share_prefix:
        rows = [[(prefix, [IGNORE] * prefix_len, list(range(prefix_len)), 0), *row[1:]] for row in rows]
    return rows


def pack(
    examples: list[Example],
    *,
    share_prefix: bool = True,
    max_row_tokens: int = 1024,
    max_per_row: int = 1 << 30,
    pad_id: int = 0,
) -> PackedBatch:
    # one prefix for the row: the prompted examples must all start with the same one (text examples have none)
    prefixed = {ex.n_prefix for ex in examples if ex.n_prefix}
    share_prefix = share_prefix and len(prefixed) == 1 and all(ex.n_prefix or ex.n_prompt < 2 for ex in examples)
    rows = _rows(examples, share_prefix, max_row_tokens, max_per_row)
    L = max(sum(len(p[0]) for p in row) for row in rows)
    R = len(rows)
    ids = torch.full((R, L), pad_id, dtype=torch.long)
    pos = torch.zeros((R, L), dtype=torch.long)
    seg = torch.full((R, L), -1, dtype=torch.long)
    lab = torch.full((R, L), IGNORE, dtype=torch.long)
    for r, row in enumerate(rows):
        o = 0
        for p_ids, p_lab, p_pos, s in row:
            n = len(p_ids)
            ids[r, o : o + n] = torch.tensor(p_ids)
            lab[r, o : o + n] = torch.tensor(p_lab)
            pos[r, o : o + n] = torch.tensor(p_pos)
            seg[r, o : o + n] = s
            o += n
    # Position j predicts token j+1; a body always starts with a question token or the separator of a text
    # window (label -100), so a kept position
    # and its target are always in the same segment. The kept positions are found here, on the host, once: a
    # boolean index on the GPU would make the host wait for the device (nonzero) in every step.
    keep = torch.zeros((R, L), dtype=torch.bool)
    keep[:, :-1] = lab[:, 1:] != IGNORE
    targets = lab[:, 1:][keep[:, :-1]]
    keep_idx = keep.view(-1).nonzero().squeeze(1)
    return PackedBatch(ids, pos, seg, keep_idx, targets, int((seg != -1).sum()), len(examples), share_prefix)


def _unwrap(model):
    """The transformers model inside DDP / DeepSpeed (`.module`) and peft wrappers (they forward attributes)."""
    while hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
        model = model.module
    return model


@contextlib.contextmanager
def head_only_at(model, keep_idx: torch.Tensor, capture: dict | None = None):
    """Run the output head (lm_head) only on the kept positions, whatever the transformers version.

    A forward pre-hook on the output embedding replaces its input (rows, L, hidden) by the kept rows (n, hidden),
    so the model returns logits of shape (n, vocab). This works through DDP/FSDP/peft wrappers (the head still runs
    inside the model's own forward) and on releases that take only an int/1-D `logits_to_keep` (5.17 does not
    accept the 2-D mask newer ones do). With `capture`, the head gets an empty input and the kept hidden states
    are stored in capture["hidden"] for a fused linear + cross-entropy kernel.
    """
    head = _unwrap(model).get_output_embeddings()

    def pre(_mod, args):
        h = args[0]
        h = h.reshape(-1, h.shape[-1]).index_select(0, keep_idx)
        if capture is not None:
            capture["hidden"] = h
            return (h[:0],)
        return (h,)

    handle = head.register_forward_pre_hook(pre)
    try:
        yield head
    finally:
        handle.remove()


def packed_loss(model, batch: PackedBatch, attn_impl: str = "sdpa", fused_ce=None) -> tuple[torch.Tensor, int]:
    """(sum of token cross-entropies, number of label tokens); logits only at label positions.

    fused_ce: optional `f(weight, hidden, targets) -> summed loss` (liger-kernel's fused linear cross-entropy),
    which never materializes the (n, vocab) logits.
    """
    if attn_impl.startswith("flash") or not batch.shared_prefix:
        # No 4D mask: varlen flash kernels (and SDPA, through transformers' packed-sequence detection) find the
        # example boundaries from position_ids restarting at 0.
        mask = None
    else:
        mask = batch.attention_mask(None if attn_impl == "sdpa" else next(model.parameters()).dtype)
    capture = {} if fused_ce is not None else None
    with head_only_at(model, batch.keep_idx, capture) as head:
        out = model(input_ids=batch.input_ids, position_ids=batch.position_ids, attention_mask=mask, use_cache=False)
    if capture is not None:
        return fused_ce(head.weight, capture["hidden"], batch.targets), batch.n_labels
    logits = out.logits.reshape(-1, out.logits.shape[-1]).float()
    loss = torch.nn.functional.cross_entropy(logits, batch.targets, reduction="sum")
    return loss, batch.n_labels
