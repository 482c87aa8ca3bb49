"""Where embarrassingly parallel work runs (params.compute.engine): `local`, one unit after another in this
process, or `ray`, the same units spread over a Ray cluster through Ray Data. Both build the very same worker
and call it on the very same units, and both return the results in unit order, so a stage's tables are the
same row for row whichever engine made them (docs/compute.md). Workers that read and write files get them
through UnitFiles: on a cluster with no shared folder, through object storage (staging.py)."""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tqdm import tqdm

from deepfake_detector.config import ComputeConfig
from deepfake_detector.io import atomic_path, run_key
from deepfake_detector.logs import UserError
from deepfake_detector.staging import Staging, clear

log = logging.getLogger("engines")
Worker = Callable[[Any], Any]  # built once per process (it may hold a model such as MTCNN), then called per unit
Fetch = Callable[[str], str]  # an input file's path -> a path this process can open


@dataclass(frozen=True)
class UnitFiles:
    """The files of workers that read and write them. `make_worker(out=..., fetch=...)` is then called: the worker
    writes under `out` and opens each input file as `fetch(path)`. Here and on a shared folder, `out` is this
    folder and `fetch` returns the path; with compute.ray_storage, a Ray worker writes into its own scratch
    folder and fetches copies, and the files go through object storage (staging.py): `inputs(unit)` names the
    files a unit reads, so that they can be uploaded first."""

    out: Path
    inputs: Callable[[Any], Iterable[str]]


@dataclass(frozen=True)
class Progress:
    """What the progress bar and the throughput log say: `desc`, counting `size(unit)` `unit_name`s per unit."""

    desc: str
    unit_name: str = "item"
    size: Callable[[Any], int] = lambda unit: 1


def run_units(
    units: Sequence[Any],
    make_worker: Callable[..., Worker],
    compute: ComputeConfig,
    progress: Progress,
    resume_dir: Path | None = None,
    files: UnitFiles | None = None,
) -> list[Any]:
    """[worker(unit) for unit in units] on compute.engine, with progress (done, rate, ETA). `make_worker` must be
    picklable for Ray (a class or a functools.partial of one), and the worker's outputs must be picklable. With
    `files` (see UnitFiles) it is called as make_worker(out=..., fetch=...), else with no arguments.

    `resume_dir` (io.resumable_dir's `finished`): each unit's result is recorded there as it arrives, and the
    units a previous, failed run recorded are not run again."""
    ledger = Ledger(resume_dir, len(units), progress.desc)
    pending = {i: units[i] for i in ledger.pending()}
    if not pending:
        return ledger.in_order()  # no worker to build, no cluster to start (~15 s for Ray)
    staging = _staging(compute, progress.desc, units, files)
    if staging:
        _upload_inputs(staging, [path for unit in pending.values() for path in files.inputs(unit)], progress.desc)
    with Meter(progress, compute.engine, pending.values()) as meter:

        def finished(i: int, result: Any) -> None:
            if staging:
                staging.get_outputs(i, files.out)  # before the unit counts as done: a resumed run finds its files
            ledger.record(i, result)
            meter.advance(units[i])

        out = files.out if files else None
        if compute.engine == "local":
            _run_here(pending, make_worker, out, finished)
        else:
            _run_on_ray(pending, make_worker, out, staging, compute, finished)
        if staging:
            staging.remove()
    return ledger.in_order()


class Ledger:
    """The units' results by index; with `resume_dir`, each also recorded there as it arrives, and the ones a
    previous, failed run recorded read back instead of run again."""

    def __init__(self, resume_dir: Path | None, count: int, desc: str):
        self.resume_dir, self.count = resume_dir, count
        self.results: dict[int, Any] = _recorded(resume_dir, count) if resume_dir else {}
        if self.results:
            log.info("%s: resuming, %d of %d units were done by the previous run", desc, len(self.results), count)

    def pending(self) -> list[int]:
        return [i for i in range(self.count) if i not in self.results]

    def record(self, i: int, result: Any) -> None:
        self.results[i] = result
        if self.resume_dir:
            with atomic_path(self.resume_dir / f"{i}.pkl") as tmp:
                tmp.write_bytes(pickle.dumps(result))

    def in_order(self) -> list[Any]:
        return [self.results[i] for i in range(self.count)]


class Meter:
    """The progress bar of this run's own units; on success, their throughput in the log."""

    def __init__(self, progress: Progress, engine: str, units: Iterable[Any]):
        self.progress, self.work = progress, sum(progress.size(unit) for unit in units)
        self.bar = tqdm(total=self.work, desc=f"{progress.desc} ({engine})", unit=progress.unit_name)
        self.started = time.perf_counter()

    def advance(self, unit: Any) -> None:
        self.bar.update(self.progress.size(unit))

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        self.bar.close()
        if error_type is None:
            self.log_throughput(time.perf_counter() - self.started)

    def log_throughput(self, seconds: float) -> None:
        """Of this run's own units only: a resumed run's recorded units took no time here. The log, not a summary,
        holds it: a clock reading in a committed metrics file would change with every run (benchmarks parse it)."""
        desc, unit_name = self.progress.desc, self.progress.unit_name
        rate = self.work / seconds if seconds else 0.0
        log.info(
            "%s: %.2f %ss/s (with the workers' start-up): %d %ss in %.1f s",
            desc,
            rate,
            unit_name,
            self.work,
            unit_name,
            seconds,
        )


def _run_here(
    units: dict[int, Any], make_worker: Callable[..., Worker], out: Path | None, finished: Callable[[int, Any], None]
) -> None:
    """Each of `units` (by index) through one worker in this process, in order."""
    worker = _build(make_worker, out)
    for i, unit in units.items():
        finished(i, worker(unit))


def _staging(compute: ComputeConfig, desc: str, units: Sequence[Any], files: UnitFiles | None) -> Staging | None:
    """This run's folder in compute.ray_storage, when files go through object storage."""
    if compute.engine != "ray" or not compute.ray_storage or files is None:
        return None
    return Staging(f"{compute.ray_storage.rstrip('/')}/{desc}-{run_key(desc, units)[:16]}")


def _upload_inputs(staging: Staging, paths: list[str], desc: str) -> None:
    staging.check()  # a wrong URL or missing credentials fail here, before any upload or worker
    log.info("%s: uploading %d input files to %s", desc, len(set(paths)), staging.root)
    sent = staging.put_inputs(paths)
    log.info("%s: %d uploaded, %d there from an earlier run or missing here", desc, sent, len(set(paths)) - sent)


def in_place(path: str) -> str:
    """The Fetch of a worker that opens files where they are (here, or on a folder every node mounts)."""
    return path


def _build(make_worker: Callable[..., Worker], out: Path | None) -> Worker:
    """The worker, writing into `out` and reading files where they are (no UnitFiles: out is None)."""
    return make_worker() if out is None else make_worker(out=out, fetch=in_place)


def _recorded(resume_dir: Path, count: int) -> dict[int, Any]:
    """The results a previous run recorded in `resume_dir`, by unit index."""
    return {i: pickle.loads(path.read_bytes()) for i in range(count) if (path := resume_dir / f"{i}.pkl").exists()}


class _RayWorker:
    """One Ray Data actor: builds the worker once, then runs units shipped as pickles (any Python object). With
    `staging`, the worker reads and writes in a scratch folder of its own, and uploads each unit's files."""

    def __init__(self, make_worker: Callable[..., Worker], out: Path | None, staging: Staging | None):
        self.staging = staging
        if staging:
            # made for each unit and removed after it, not at the actor's end: Ray may kill a retired actor
            # before its finalizers run (ray.shutdown right after the last unit, on a loaded machine)
            self.scratch = Path(tempfile.gettempdir()) / f"deepfake-unit-{uuid.uuid4().hex}"
            fetch = partial(staging.fetch, scratch=self.scratch / "in")
            self.worker = make_worker(out=self.scratch / "out", fetch=fetch)
        else:
            self.worker = _build(make_worker, out)

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        try:
            if self.staging:
                clear(self.scratch / "in")
                clear(self.scratch / "out")
            result = self.worker(pickle.loads(row["unit"]))
            if self.staging:
                self.staging.put_outputs(row["index"], self.scratch / "out")
        finally:
            if self.staging:  # the worker's disk holds one unit's files at a time, and none between units
                shutil.rmtree(self.scratch, ignore_errors=True)
        return {"index": row["index"], "result": pickle.dumps(result)}


def _run_on_ray(
    units: dict[int, Any],
    make_worker: Callable[..., Worker],
    out: Path | None,
    staging: Staging | None,
    compute: ComputeConfig,
    finished: Callable[[int, Any], None],
) -> None:
    """Each of `units` (by index) through a worker on Ray; `finished(index, result)` as results arrive."""
    import ray
    import ray.data

    started_here = _connect(compute)
    try:
        rows = [{"index": i, "unit": pickle.dumps(unit)} for i, unit in units.items()]
        dataset = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), 4 * compute.ray_workers)))
        mapped = dataset.map(
            _RayWorker,
            fn_constructor_args=(make_worker, out, staging),
            compute=ray.data.ActorPoolStrategy(size=compute.ray_workers),
            num_cpus=compute.ray_cpus_per_worker,
        )  # Ray Data restarts a worker that dies (killed, out of memory, a lost node) and runs its unit again
        for row in mapped.iter_rows():  # streams: results arrive as workers finish, in any order
            finished(row["index"], pickle.loads(row["result"]))
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
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    except ConnectionError as err:
        raise UserError(
            f"compute.ray_address={compute.ray_address}: no Ray cluster answered ({err}); start one "
            "(`ray start --head`), fix the address, or set compute.ray_address: local"
        ) from None
    ray.data.DataContext.get_current().enable_progress_bars = False  # our own progress bar counts the units
    log.info("Ray %s: %s", "started on this machine" if local else "cluster", ray.cluster_resources())
    return local
