"""The service's micro-batcher: concurrent callers share model calls and each gets exactly its own scores.

No test depends on how long anything takes: a gated scorer holds the model busy until the calls the test
needs are queued (the batcher's `queued` count), so which calls meet in a batch is known in advance."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest

from deepfake_detector.serving.batcher import MicroBatcher

WAIT_FOR_ALL_S = 60.0  # a bound, never reached: a batch that waits for everyone closes as soon as it is full
HANG_S = 30.0  # how long a test waits for something that should happen at once before it fails


def run_together(batcher: MicroBatcher, calls: list[list]) -> list[np.ndarray]:
    """Submit all calls from their own threads at the same moment."""
    start = threading.Barrier(len(calls))

    def one(items: list) -> np.ndarray:
        start.wait()
        return batcher(items)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, calls))


class RecordingScorer:
    """Scores numbers as 2x + 1, remembering the size of every batch it was given."""

    def __init__(self):
        self.batch_sizes: list[int] = []

    def __call__(self, items: list) -> np.ndarray:
        self.batch_sizes.append(len(items))
        return np.asarray(items, dtype=float) * 2 + 1


class GatedScorer(RecordingScorer):
    """A RecordingScorer whose first batch waits for `release`: the model is busy while the test queues calls."""

    def __init__(self):
        super().__init__()
        self.busy, self.release = threading.Event(), threading.Event()

    def __call__(self, items: list) -> np.ndarray:
        if not self.busy.is_set():
            self.busy.set()
            assert self.release.wait(HANG_S), "the test never released the model"
        return super().__call__(items)


def wait_until(condition, what: str) -> None:
    """Polled: the batcher's queue has no event to wait on."""
    deadline = time.monotonic() + HANG_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.001)


def run_behind_a_busy_model(
    batcher: MicroBatcher, scorer: GatedScorer, first: list, calls: list[list]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """`first` occupies the model; every call of `calls` is queued behind it before the model is released."""
    with ThreadPoolExecutor(len(calls) + 1) as pool:
        first_result: Future = pool.submit(batcher, first)
        assert scorer.busy.wait(HANG_S)
        results = [pool.submit(batcher, items) for items in calls]
        wait_until(lambda: batcher.stats()["queued"] == len(calls), f"{len(calls)} calls are queued")
        scorer.release.set()
        return first_result.result(), [r.result() for r in results]


def test_concurrent_calls_share_one_batch_and_get_their_own_results():
    scorer = RecordingScorer()
    calls = [[10 * n + i for i in range(n % 3 + 1)] for n in range(8)]  # 1 to 3 items each
    batcher = MicroBatcher(scorer, max_size=sum(map(len, calls)), max_wait_s=WAIT_FOR_ALL_S)
    results = run_together(batcher, calls)
    for items, result in zip(calls, results, strict=True):
        assert result.tolist() == [2 * x + 1 for x in items]
    assert scorer.batch_sizes == [sum(map(len, calls))], "all calls must ride in one batch"
    assert batcher.stats()["calls_per_batch"] == {8: 1}


def test_batches_never_exceed_max_size_and_calls_are_not_split():
    """12 three-item calls, max_size 7: the first runs alone while the other 11 queue; then two calls fit
    in a batch (a third would make 9), so the queue leaves in pairs and the last call alone."""
    scorer = GatedScorer()
    batcher = MicroBatcher(scorer, max_size=7, max_wait_s=0.0)
    first, results = run_behind_a_busy_model(batcher, scorer, [0, 0, 0], [[n, n, n] for n in range(1, 12)])
    assert [first.tolist(), *(r.tolist() for r in results)] == [[2 * n + 1] * 3 for n in range(12)]
    assert scorer.batch_sizes == [3, 6, 6, 6, 6, 6, 3]
    assert batcher.stats()["calls_per_batch"] == {1: 2, 2: 5} and batcher.stats()["queued"] == 0


def test_a_call_larger_than_max_size_runs_alone():
    scorer = RecordingScorer()
    batcher = MicroBatcher(scorer, max_size=4, max_wait_s=0.0)
    assert batcher(list(range(10))).tolist() == [2 * x + 1 for x in range(10)]
    assert scorer.batch_sizes == [10]


def test_max_size_one_turns_batching_off():
    scorer = GatedScorer()
    batcher = MicroBatcher(scorer, max_size=1, max_wait_s=WAIT_FOR_ALL_S)
    first, results = run_behind_a_busy_model(batcher, scorer, [0], [[n] for n in range(1, 6)])
    assert [first.tolist(), *(r.tolist() for r in results)] == [[2 * n + 1] for n in range(6)]
    assert scorer.batch_sizes == [1] * 6  # five calls were queued together, yet each ran alone


def test_an_error_reaches_the_callers_of_its_batch_and_the_batcher_keeps_serving():
    def score(items: list) -> np.ndarray:
        if "bad" in items:
            raise ValueError("cannot score 'bad'")
        return np.ones(len(items))

    batcher = MicroBatcher(score, max_size=8, max_wait_s=0.0)
    with pytest.raises(ValueError, match="cannot score"):
        batcher(["bad"])
    assert batcher(["fine", "fine"]).tolist() == [1.0, 1.0]
    assert batcher([]).tolist() == []


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="max_size"):
        MicroBatcher(np.asarray, max_size=0, max_wait_s=0.0)


def test_batched_model_scores_equal_unbatched_scores(tiny_model_dir):
    """The real model through the batcher: same probabilities as scoring each caller's crops alone."""
    from deepfake_detector.inference import Predictor

    predictor = Predictor(tiny_model_dir)
    rng = np.random.default_rng(0)
    size = predictor.spec.faces.crop_size
    calls = [[rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n % 4 + 1)] for n in range(8)]
    batcher = MicroBatcher(predictor.score_crops, max_size=sum(map(len, calls)), max_wait_s=WAIT_FOR_ALL_S)
    results = run_together(batcher, calls)
    assert batcher.stats()["calls_per_batch"] == {8: 1}
    for crops, batched in zip(calls, results, strict=True):
        np.testing.assert_allclose(batched, predictor.score_crops(crops), rtol=0, atol=1e-6)
