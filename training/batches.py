"""The batches of each optimizer step, built ahead in a background thread while the device runs the current step.

One optimizer step = `grad_accum` micro-batches of `batch_size` examples per process. Each micro-batch is packed on
the host (training/packing.py), pinned when the device is a GPU, and copied with non_blocking=True, so the host
never waits for the device to build or send the next batch. The data order is a pure function of (seed, epoch):
resuming at step s of an epoch rebuilds exactly the batches an uninterrupted run would have used.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

import torch

from .data import Example
from .packing import PackedBatch, pack


@dataclass
class Step:
    micro: list[tuple[PackedBatch, float]]  # (batch on the host, loss weight: 0 for a filler pass)
    example_tokens: int  # tokens of the unpacked examples this process trains on
    tokens: int  # tokens actually computed (packed rows, no padding)
    labels: int  # label tokens of this process
    global_labels: int  # label tokens of the whole step over all processes (loss normalizer)


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    g = torch.Generator().manual_seed(seed * 100003 + epoch)
    return torch.randperm(n, generator=g).tolist()


def build_step(
    examples: list[Example],
    order: list[int],
    s: int,
    *,
    batch_size: int,
    grad_accum: int,
    world: int,
    rank: int,
    packing: bool,
    share_prefix: bool,
    max_row_tokens: int,
    pad_id: int,
) -> Step:
    """Step s of an epoch for process `rank`: its share of the step's examples, split into micro-batches."""
    per_step = batch_size * grad_accum * world
    chunk = order[s * per_step : (s + 1) * per_step]
    mine = chunk[rank::world]
    global_labels = sum(examples[i].n_answer for i in chunk)
    micro, weight = [], 1.0
    if not mine:  # a short last step on some ranks: a zero-weight pass keeps the collectives in step
        mine, weight = chunk[:1], 0.0
    for k in range(0, len(mine), batch_size):
        exs = [examples[i] for i in mine[k : k + batch_size]]
        # --no-packing: one example per row, padded (the plain batch; kept for comparisons and tests)
        micro.append(
            (
                pack(
                    exs,
                    share_prefix=packing and share_prefix,
                    pad_id=pad_id,
                    max_row_tokens=max_row_tokens if packing else 1 << 30,
                    max_per_row=(1 << 30) if packing else 1,
                ),
                weight,
            )
        )
    exs = [examples[i] for i in mine] if weight else []
    return Step(
        micro=micro,
        example_tokens=sum(len(e.ids) for e in exs),
        tokens=sum(b.n_tokens for b, _ in micro) if weight else 0,
        labels=sum(b.n_labels for b, _ in micro) if weight else 0,
        global_labels=max(1, global_labels),
    )


class Prefetch:
    """Iterate over build(s) for s in steps, computed `depth` steps ahead in a daemon thread.

    Batches are pinned when `pin` (CUDA) so the copy in `to_device` overlaps compute. An exception in the thread
    is raised in the consumer at the step it belongs to; `close()` stops the thread early (resume, kill tests).
    """

    _END = object()

    def __init__(self, build, steps, pin: bool = False, depth: int = 2):
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.pin = pin
        self.thread = threading.Thread(target=self._work, args=(build, list(steps)), daemon=True)
        self.thread.start()

    def _work(self, build, steps) -> None:
        try:
            for s in steps:
                st = build(s)
                if self.pin:
                    st.micro = [(b.pin_memory(), w) for b, w in st.micro]
                while not self.stop.is_set():
                    try:
                        self.q.put((s, st), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self.stop.is_set():
                    return
        except BaseException as e:  # noqa: BLE001 - handed to the consumer thread
            self.q.put(e)
            return
        self.q.put(self._END)

    def __iter__(self):
        while True:
            item = self.q.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self.stop.set()
        try:
            while True:
                self.q.get_nowait()
        except queue.Empty:
            pass
        self.thread.join(timeout=5)


def to_device(step: Step, device) -> Step:
    nb = torch.device(device).type == "cuda"
    return Step(
        micro=[(b.to(device, non_blocking=nb), w) for b, w in step.micro],
        example_tokens=step.example_tokens,
        tokens=step.tokens,
        labels=step.labels,
        global_labels=step.global_labels,
    )
