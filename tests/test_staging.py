"""Object storage instead of a shared folder (compute.ray_storage, staging.py): files go up to S3 (moto's server
on this machine, the real S3 API) and come back byte for byte; Ray workers read copies and the stage gets their
files; a storage that cannot be written stops the run before any work."""

from __future__ import annotations

import sys
from pathlib import Path

import fsspec
import pytest
import ray.cloudpickle

from deepfake_detector.config import ComputeConfig
from deepfake_detector.engines import Progress, UnitFiles, run_units
from deepfake_detector.logs import UserError
from deepfake_detector.staging import Staging

RAY = ComputeConfig(engine="ray", ray_address="local", ray_workers=2)


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def left_in(url: str) -> list[str]:
    fs, root = fsspec.core.url_to_fs(url)
    fs.invalidate_cache()
    return fs.find(root)


def test_files_go_up_and_come_back_byte_for_byte(s3_bucket, tmp_path):
    head = tmp_path / "head"
    (head / "videos").mkdir(parents=True)
    inputs = [head / "videos" / "a.mp4", head / "videos" / "b.jpg"]
    for i, path in enumerate(inputs):
        path.write_bytes(bytes(range(256)) * (i + 1))
    staging = Staging(f"{s3_bucket.url}/work/run-1")
    staging.check()

    missing = str(head / "videos" / "gone.mp4")
    assert staging.put_inputs([str(p) for p in inputs] + [missing]) == 2  # the missing file is not uploaded
    assert staging.put_inputs([str(p) for p in inputs]) == 0  # a re-run uploads nothing twice

    scratch = tmp_path / "worker"
    copy = staging.fetch(str(inputs[1]), scratch)
    assert Path(copy) != inputs[1] and Path(copy).is_relative_to(scratch)
    assert Path(copy).read_bytes() == inputs[1].read_bytes()
    assert staging.fetch(missing, scratch) == missing  # the worker then reports it missing, naming it

    written = scratch / "out"
    (written / "item-1").mkdir(parents=True)
    (written / "item-1" / "000001.jpg").write_bytes(b"crop one")
    (written / "item-1" / "000002.jpg").write_bytes(b"crop two")
    staging.put_outputs(7, written)
    out = head / "faces"
    staging.get_outputs(7, out)
    assert tree(out) == tree(written)
    staging.get_outputs(8, out)  # a unit that wrote nothing (no face found) brings nothing
    assert tree(out) == tree(written)

    staging.remove()
    assert left_in(s3_bucket.url) == []


def test_a_storage_that_cannot_be_written_stops_before_any_work(s3_bucket):
    with pytest.raises(UserError, match=r"cannot write s3://no-such-bucket/run .*compute.ray_storage: ''"):
        Staging("s3://no-such-bucket/run").check()
    with pytest.raises(UserError, match="gcsfs"):  # fsspec names the protocol's package
        Staging("gs://bucket/run").check()


class Shouts:
    """A worker that reads its unit (a file) through `fetch` and writes it upper-cased under `out`; it returns
    the path it read."""

    def __init__(self, out: Path, fetch):
        self.out, self.fetch = out, fetch

    def __call__(self, path: str) -> str:
        source = Path(self.fetch(path))
        if source.is_file():
            (self.out / "shouted").mkdir(exist_ok=True)
            (self.out / "shouted" / source.name).write_text(source.read_text().upper())
        return str(source)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("protocol", ["s3", "file"])
def test_ray_workers_read_and_write_only_through_the_storage(protocol, tmp_path, request):
    storage = (
        f"{request.getfixturevalue('s3_bucket').url}/work" if protocol == "s3" else f"file://{tmp_path}/mounted/work"
    )
    inputs = [tmp_path / "in" / f"{name}.txt" for name in ("one", "two", "three")]
    inputs[0].parent.mkdir()
    for path in inputs:
        path.write_text(f"file {path.stem}")
    units = [str(p) for p in inputs] + [str(tmp_path / "in" / "absent.txt")]
    out = tmp_path / "out"
    out.mkdir()
    compute = RAY.model_copy(update={"ray_storage": storage})
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray workers cannot import tests/

    read = run_units(units, Shouts, compute, Progress("shout"), files=UnitFiles(out, inputs=lambda path: [path]))

    assert tree(out) == {f"shouted/{p.name}": f"FILE {p.stem.upper()}".encode() for p in inputs}
    assert all(r != u and "deepfake-unit-" in r for r, u in zip(read[:3], units, strict=False))  # worker copies
    assert read[3] == units[3]  # not on the head: the worker gets the path itself and can say it is missing
    assert left_in(storage) == []  # the run's folder goes when the run succeeds
    scratch = {next(p for p in Path(r).parents if p.name.startswith("deepfake-unit-")) for r in read[:3]}
    assert scratch and not any(folder.exists() for folder in scratch)  # and so do the workers' scratch folders


def test_the_local_engine_reads_and_writes_in_place(tmp_path):
    source = tmp_path / "a.txt"
    source.write_text("here")
    read = run_units(
        [str(source)],
        Shouts,
        ComputeConfig(ray_storage="s3://unused/work"),
        Progress("shout"),
        files=UnitFiles(tmp_path, inputs=lambda path: [path]),
    )
    assert read == [str(source)] and (tmp_path / "shouted" / "a.txt").read_text() == "HERE"


def test_a_storage_that_is_not_a_url_is_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"'my-bucket/work' is not a URL: use protocol://location \(s3://"):
        ComputeConfig(engine="ray", ray_storage="my-bucket/work")
    assert ComputeConfig(ray_storage="s3://my-bucket/work").ray_storage == "s3://my-bucket/work"
