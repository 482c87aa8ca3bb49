"""The service's micro-batcher: concurrent callers share model calls and each gets exactly its own scores."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from deepfake_detector.serving.batcher import MicroBatcher

WAIT_FOR_ALL_S = 5.0  # generous max wait: batches then close because they are full, not on a timer


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

    def __init__(self, delay_s: float = 0.0):
        self.batch_sizes: list[int] = []
        self.delay_s = delay_s

    def __call__(self, items: list) -> np.ndarray:
        self.batch_sizes.append(len(items))
        time.sleep(self.delay_s)
        return np.asarray(items, dtype=float) * 2 + 1


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
    scorer = RecordingScorer(delay_s=0.02)  # a busy model: later calls queue up behind it
    calls = [[n, n, n] for n in range(12)]
    batcher = MicroBatcher(scorer, max_size=7, max_wait_s=0.05)
    results = run_together(batcher, calls)
    assert [r.tolist() for r in results] == [[2 * n + 1] * 3 for n in range(12)]
    assert sum(scorer.batch_sizes) == 36 and all(size % 3 == 0 and size <= 7 for size in scorer.batch_sizes)
    assert max(scorer.batch_sizes) == 6, "two 3-item calls fit in a batch of 7, a third does not"


def test_a_call_larger_than_max_size_runs_alone():
    scorer = RecordingScorer()
    batcher = MicroBatcher(scorer, max_size=4, max_wait_s=0.0)
    assert batcher(list(range(10))).tolist() == [2 * x + 1 for x in range(10)]
    assert scorer.batch_sizes == [10]


def test_max_size_one_turns_batching_off():
    scorer = RecordingScorer(delay_s=0.01)
    batcher = MicroBatcher(scorer, max_size=1, max_wait_s=WAIT_FOR_ALL_S)
    results = run_together(batcher, [[n] for n in range(6)])
    assert [r.tolist() for r in results] == [[2 * n + 1] for n in range(6)]
    assert scorer.batch_sizes == [1] * 6


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
