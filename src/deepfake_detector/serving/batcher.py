"""Adaptive micro-batching: the face crops of requests scored at the same time share one model call.

Callers (the service's request threads) hand in their crops and block until their own scores come back; one
background thread runs the model. While the model is busy, calls queue up, and the next run takes all of them
(up to `max_size` crops), so batches grow with the load by themselves. `max_wait_s` lets a batch wait a
little for more calls when the model is idle: it bounds the latency a lone request pays for batching.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Scorer = Callable[[list[Any]], np.ndarray]  # items -> one score per item


@dataclass
class _Call:
    items: list[Any]
    result: Future = field(default_factory=Future)


class MicroBatcher:
    """Thread-safe: `batcher(items)` returns `score(items)`, computed in a batch with other callers' items.

    A caller's items are never split across batches; a call larger than `max_size` runs alone.
    """

    def __init__(self, score: Scorer, max_size: int, max_wait_s: float, name: str = "micro-batcher"):
        if max_size < 1 or max_wait_s < 0:
            raise ValueError(f"max_size must be >= 1 and max_wait_s >= 0, got {max_size} and {max_wait_s}")
        self.score, self.max_size, self.max_wait_s = score, max_size, max_wait_s
        self.batch_calls: Counter[int] = Counter()  # calls per batch -> how many batches had that many
        self._queue: queue.Queue[_Call] = queue.Queue()
        self._stats_lock = threading.Lock()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def __call__(self, items: Sequence[Any]) -> np.ndarray:
        call = _Call(list(items))
        if not call.items:
            return self.score([])
        self._queue.put(call)
        return call.result.result()

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            counts = dict(sorted(self.batch_calls.items()))
        return {
            "max_size": self.max_size,
            "max_wait_ms": self.max_wait_s * 1000,
            "batches": sum(counts.values()),
            "calls_per_batch": counts,
            "queued": self._queue.qsize(),
        }

    # -- the model thread ----------------------------------------------------------------------------------
    def _run(self) -> None:
        carried: _Call | None = None  # a call that did not fit in the previous batch goes first in the next
        while True:
            batch = self._collect(carried or self._queue.get())
            carried = batch.pop() if len(batch) > 1 and _size(batch) > self.max_size else None
            self._score(batch)

    def _collect(self, first: _Call) -> list[_Call]:
        """`first` plus the calls that arrive before the batch is full or `max_wait_s` has passed.

        The last call returned may overflow `max_size`; `_run` carries it over to the next batch."""
        batch, deadline = [first], time.monotonic() + self.max_wait_s
        while _size(batch) < self.max_size:
            try:  # timeout 0 still takes calls that are already queued
                batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return batch

    def _score(self, batch: list[_Call]) -> None:
        try:
            scores = np.asarray(self.score([item for call in batch for item in call.items]))
        except Exception as err:  # every caller of the batch sees the error, the thread keeps serving
            for call in batch:
                call.result.set_exception(err)
            return
        with self._stats_lock:
            self.batch_calls[len(batch)] += 1
        start = 0
        for call in batch:
            call.result.set_result(scores[start : start + len(call.items)])
            start += len(call.items)


def _size(batch: list[_Call]) -> int:
    return sum(len(call.items) for call in batch)
