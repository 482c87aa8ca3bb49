"""Package the model folder as a BentoML model and a Bento archive (`deepfake_detector.bento`).

BentoML reads BENTOML_HOME once, when it is first imported, so the store work runs in a child Python process
started with BENTOML_HOME set: the calling process (a DVC stage, a test) may already have imported bentoml
with another home. The archive is written to a temp dir beside the output and renamed into place, so a failed
run never leaves a half-written `.bento`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from deepfake_detector.provenance import git_commit_time
from deepfake_detector.serving.env import BENTO_NAME, MODEL_DIR_ENV

CHECKOUT = Path(__file__).resolve().parents[3]  # the checkout this package is installed from (editable)
BENTOFILE = "bentofile.yaml"
BUILD_TIMEOUT_S = 900


def package_bento(model_dir: Path, bentoml_home: Path, out_dir: Path, labels: dict[str, str]) -> Path:
    """Store `model_dir` as model `deepfake_detector`, build the Bento, export it; return the archive path.

    `labels` (git commit, params hash, data hash, ...) go on both the model and the Bento. The store in
    `bentoml_home` keeps only this model and Bento, so it mirrors the packaged model exactly.
    """
    model_dir, bentoml_home, out_dir = Path(model_dir).resolve(), Path(bentoml_home).resolve(), Path(out_dir).resolve()
    project_root = project_root_for_build()
    bentoml_home.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{BENTO_NAME}.bento"
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".partial-") as tmp:
        partial = Path(tmp) / final.name
        job = {"model_dir": str(model_dir), "out": str(partial), "labels": {k: str(v) for k, v in labels.items()}}
        env = {**os.environ, "BENTOML_HOME": str(bentoml_home), "BENTOML_DO_NOT_TRACK": "True"}
        env.pop(MODEL_DIR_ENV, None)  # with it set the service declares no model and the Bento would lack it
        subprocess.run(
            [sys.executable, "-m", "deepfake_detector.serving.bento", json.dumps(job)],
            env=env,
            cwd=project_root,
            check=True,
            timeout=BUILD_TIMEOUT_S,
        )
        os.replace(partial, final)
    return final


def project_root_for_build() -> Path:
    """The project being packaged: the working directory (where DVC runs stages) when it holds a
    bentofile.yaml, else the checkout this package was installed from."""
    for root in (Path.cwd(), CHECKOUT):
        if (root / BENTOFILE).is_file():
            return root
    raise FileNotFoundError(f"no {BENTOFILE} in {Path.cwd()} or {CHECKOUT}; package_bento needs the project checkout")


def content_version(model_dir: Path, labels: dict[str, str]) -> str:
    """A version from the model files and labels: the same inputs give the same model and Bento tags."""
    digest = hashlib.sha256(json.dumps(labels, sort_keys=True).encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(model_dir).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _build(model_dir: Path, out: Path, labels: dict[str, str]) -> None:
    """Runs in the child process, with BENTOML_HOME already set."""
    import bentoml

    version = content_version(model_dir, labels)
    # Start from an empty store: an older model would shadow `latest` (list(name) raises when none exist).
    for bento in bentoml.list():
        if bento.tag.name == BENTO_NAME:
            bentoml.delete(bento.tag)
    for model in bentoml.models.list():
        if model.tag.name == BENTO_NAME:
            bentoml.models.delete(model.tag)
    metadata = {"source_dir": model_dir.name, "files": sorted(p.name for p in model_dir.iterdir())}
    with bentoml.models.create(f"{BENTO_NAME}:{version}", labels=labels, metadata=metadata) as model:
        shutil.copytree(model_dir, model.path, dirs_exist_ok=True)
    bento = bentoml.bentos.build_bentofile(BENTOFILE, build_ctx=str(Path.cwd()), version=version, labels=labels)
    _stamp_reproducibly(Path(bentoml.get(bento.tag).path), Path(bentoml.models.get(model.tag).path_of("model.yaml")))
    bentoml.export_bento(bento.tag, str(out))
    _reproducible_tar(out)


def _stamp_reproducibly(bento_dir: Path, model_yaml: Path) -> None:
    """BentoML stamps the clock into the store, and names its copy of the setup script after the script's
    absolute path. Stamp the code's commit time and name the copy by its content instead, so the same model and
    code give byte-identical outputs in any folder (DVC hashes them; `make demo` must reproduce dvc.lock)."""
    when = git_commit_time()
    docker = bento_dir / "env" / "docker"
    renames = _name_scripts_by_content(docker)
    for text_file in (model_yaml, bento_dir / "bento.yaml", docker / "Dockerfile"):  # one pass over each
        text = re.sub(r"(creation_time: )'[^']*'", rf"\1'{when}'", text_file.read_text())
        for old, new in renames.items():
            text = text.replace(old, new)
        text_file.write_text(text)


def _name_scripts_by_content(docker: Path) -> dict[str, str]:
    """Rename BentoML's `env/docker/script__<md5 of the absolute path>` copies after their content's md5;
    returns old -> new names, for the files that name them."""
    renames = {}
    for script in docker.glob("script__*"):
        renamed = script.with_name(f"script__{hashlib.md5(script.read_bytes()).hexdigest()}")
        script.rename(renamed)
        renames[script.name] = renamed.name
    return renames


def _reproducible_tar(archive: Path) -> None:
    """Rewrite BentoML's exported .bento (tar.xz) with sorted members and no times or owners."""
    with tarfile.open(archive) as src:
        members = sorted(src.getmembers(), key=lambda m: m.name)
        files = {m.name: src.extractfile(m).read() for m in members if m.isfile()}
    partial = archive.with_name(archive.name + ".partial")
    with tarfile.open(partial, "w:xz") as dst:
        for member in members:
            member.mtime, member.uid, member.gid, member.uname, member.gname = 0, 0, 0, "", ""
            member.pax_headers = {}  # BentoML writes PAX headers, whose times would override mtime
            dst.addfile(member, io.BytesIO(files[member.name]) if member.isfile() else None)
    os.replace(partial, archive)


if __name__ == "__main__":
    job = json.loads(sys.argv[1])
    _build(Path(job["model_dir"]), Path(job["out"]), job["labels"])
