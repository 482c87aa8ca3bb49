"""Where embarrassingly parallel work runs (params.compute.engine): `local`, one unit after another in this
process, or `ray`, the same units spread over a Ray cluster through Ray Data. Both build the very same worker
and call it on the very same units, and both return the results in unit order, so a stage's tables are the
same row for row whichever engine made them (docs/compute.md)."""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable, Sequence
from typing import Any

from tqdm import tqdm

from deepfake_detector.config import ComputeConfig
from deepfake_detector.logs import UserError

log = logging.getLogger("engines")
Worker = Callable[[Any], Any]  # built once per process (it may hold a model such as MTCNN), then called per unit


def run_units(units: Sequence[Any], make_worker: Callable[[], Worker], compute: ComputeConfig, desc: str,
              size: Callable[[Any], int] = lambda unit: 1, unit_name: str = "item") -> list[Any]:
    """[worker(unit) for unit in units] on compute.engine, with progress (done, rate, ETA) in `unit_name`s;
    `size(unit)` is how many of them a unit holds. `make_worker` must be picklable for Ray (a class or a
    functools.partial of one), and the worker's outputs must be picklable."""
    if not units:
        return []  # no worker to build, no cluster to start (~15 s for Ray)
    progress = tqdm(total=sum(size(u) for u in units), desc=f"{desc} ({compute.engine})", unit=unit_name)
    try:
        if compute.engine == "local":
            worker = make_worker()
            results = []
            for unit in units:
                results.append(worker(unit))
                progress.update(size(unit))
            return results
        return _run_on_ray(units, make_worker, compute, lambda i: progress.update(size(units[i])))
    finally:
        progress.close()


class _RayWorker:
    """One Ray Data actor: builds the worker once, then runs units shipped as pickles (any Python object)."""

    def __init__(self, make_worker: Callable[[], Worker]):
        self.worker = make_worker()

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"index": row["index"], "result": pickle.dumps(self.worker(pickle.loads(row["unit"])))}


def _run_on_ray(units: Sequence[Any], make_worker: Callable[[], Worker], compute: ComputeConfig,
                done: Callable[[int], None]) -> list[Any]:
    import ray
    import ray.data

    started_here = _connect(compute)
    try:
        rows = [{"index": i, "unit": pickle.dumps(unit)} for i, unit in enumerate(units)]
        dataset = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), 4 * compute.ray_workers)))
        mapped = dataset.map(
            _RayWorker, fn_constructor_args=(make_worker,), compute=ray.data.ActorPoolStrategy(size=compute.ray_workers),
            num_cpus=compute.ray_cpus_per_worker,
        )  # Ray Data restarts a worker that dies (killed, out of memory, a lost node) and runs its unit again
        results: list[Any] = [None] * len(units)
        for row in mapped.iter_rows():  # streams: results arrive as workers finish, in any order
            results[row["index"]] = pickle.loads(row["result"])
            done(row["index"])
        return results
    finally:
        if started_here:
            ray.shutdown()


def _connect(compute: ComputeConfig) -> bool:
    """Start a Ray on this machine (`local`) or join a cluster (`auto`, `ray://host:port`); True if started."""
    import ray
    import ray.data

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report: this machine may have no internet
    if ray.is_initialized():
        return False
    local = compute.ray_address == "local"
    try:
        ray.init(
            address=None if local else compute.ray_address,
            num_cpus=compute.ray_workers * compute.ray_cpus_per_worker if local else None,
            include_dashboard=False, log_to_driver=False, configure_logging=False,
        )
    except ConnectionError as err:
        raise UserError(f"compute.ray_address={compute.ray_address}: no Ray cluster answered ({err}); start one "
                        "(`ray start --head`), fix the address, or set compute.ray_address: local") from None
    ray.data.DataContext.get_current().enable_progress_bars = False  # our own progress bar counts the units
    log.info("Ray %s: %s", "started on this machine" if local else "cluster", ray.cluster_resources())
    return local
