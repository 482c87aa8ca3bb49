"""`deepfake`: the command-line interface (typer)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from deepfake_detector.paths import MODEL_DIR

app = typer.Typer(
    help="Deepfake detection: make demo data, index datasets, predict on files, serve the model.",
    no_args_is_help=True,
    add_completion=False,
)
data_app = typer.Typer(help="Dataset commands.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@app.command("demo-data")
def demo_data(
    out: Annotated[Path, typer.Argument(help="Folder to write the synthetic corpus to (e.g. data/demo).")],
    seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = 0,
    identities: Annotated[
        int, typer.Option(help="Rendered identities (in swap pairs); 64 is the shipped corpus.")
    ] = 64,
) -> None:
    """Generate the synthetic demo corpus: rendered faces, real manipulations, labels.csv."""
    from deepfake_detector.demo import generate_corpus

    try:
        summary = generate_corpus(out, seed=seed, identities=identities)
    except ValueError as err:  # e.g. an odd number of identities (they come in swap pairs)
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(summary, indent=2, default=str))


@app.command()
def predict(
    paths: Annotated[list[Path], typer.Argument(help="Images, videos, folders (walked) or quoted globs.")],
    model: Annotated[Path, typer.Option(help="Model folder (model.json + model.onnx or model.pt).")] = MODEL_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per input, one per line.")] = False,
    cropped: Annotated[
        bool | None,
        typer.Option(
            "--cropped/--not-cropped",
            help="The inputs are face crops (cut as training cut crop datasets) or are not; "
            "default: decided per file from the detection.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write one row per file to this Parquet folder instead of printing; a re-run skips files in it."
        ),
    ] = None,
    explain: Annotated[
        Path | None,
        typer.Option(
            help="Save where the model looked: one heatmap overlay PNG per scored face (per frame of a video) in "
            "this folder; --json then carries the heatmaps too."
        ),
    ] = None,
    frames: Annotated[
        Path | None,
        typer.Option(
            help="Save each video's evidence frames in this folder: JPEGs with the face box of each judged person's "
            "highest- and median-scoring frame; --json then names the files."
        ),
    ] = None,
    all_frames: Annotated[
        bool,
        typer.Option(
            "--all-frames", help="With --frames: every frame a judged person was scored in (the API's ?frames=all)."
        ),
    ] = False,
    # the next three default to params.compute's defaults (engine local; a Ray of 2 workers started here)
    engine: Annotated[str | None, typer.Option(help="With --out: local (this process) or ray (Ray workers).")] = None,
    ray_address: Annotated[str | None, typer.Option(help="With --engine ray: local, auto or ray://host:port.")] = None,
    workers: Annotated[int | None, typer.Option(help="With --engine ray: workers at once, each with a model.")] = None,
) -> None:
    """Fake probability and verdict per file, printed as each file is done (progress on stderr), or written to
    a Parquet folder with --out. Exits non-zero only when every input failed."""
    from deepfake_detector.logs import setup_logging
    from deepfake_detector.media.frames import media_files

    setup_logging()
    for given, option in ((explain, "--explain draws heatmaps"), (frames, "--frames saves evidence frames")):
        if out is not None and given is not None:
            typer.echo(f"error: {option} for printed results; leave out --out", err=True)
            raise typer.Exit(2)
    if all_frames and frames is None:
        typer.echo("error: --all-frames says which evidence frames to save: add --frames FOLDER", err=True)
        raise typer.Exit(2)
    if out is not None:
        _predict_to_parquet(media_files(paths), model, out, cropped, engine, ray_address, workers)
        return
    if engine not in (None, "local"):
        typer.echo("error: --engine ray writes to a Parquet folder: add --out FOLDER", err=True)
        raise typer.Exit(2)
    _predict_and_print(paths, model, as_json, cropped, explain, frames, "all" if all_frames else "key")


def _predict_and_print(
    paths: list[Path],
    model: Path,
    as_json: bool,
    cropped: bool | None,
    explain: Path | None,
    frames: Path | None,
    which_frames: str,
) -> None:
    from tqdm import tqdm

    from deepfake_detector.inference import Predictor
    from deepfake_detector.media.frames import media_files
    from deepfake_detector.prediction import PredictOptions

    options = PredictOptions(
        cropped=cropped, explain=explain is not None, evidence=which_frames if frames is not None else "none"
    )
    try:
        predictor = Predictor(model)
    except FileNotFoundError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    inputs = media_files(paths)
    if not inputs:
        typer.echo(f"error: no images or videos in {', '.join(map(str, paths))}", err=True)
        raise typer.Exit(2)
    failed = 0
    for path in tqdm(inputs, desc="predict", unit="file", file=sys.stderr):
        r, decoded = predictor.predict_path_and_frames(path, options)
        if explain is not None:
            _save_overlays(explain, path, r, decoded)
        if frames is not None:
            _save_evidence(frames, path, r)
        failed += r.error is not None
        if as_json:
            typer.echo(json.dumps(r.to_dict()))
        elif r.error:
            typer.echo(f"{r.path}: ERROR {r.error}")
        elif r.reason:
            typer.echo(f"{r.path}: {r.verdict.upper()} ({r.reason['code']}) {r.reason['message']}")
        else:
            people = f", {len(r.tracks)} people, decided by person {r.decided_by_track}" if len(r.tracks) > 1 else ""
            typer.echo(
                f"{r.path}: {r.verdict.upper()} (fake probability {r.fake_probability:.3f}, "
                f"threshold {r.threshold:.3f}, {len(r.faces)} face(s) in {r.frames} frame(s){people})"
            )
            if r.verdict == "fake" and r.manipulation:
                typer.echo(
                    f"{r.path}: most likely method {r.manipulation['method']} "
                    f"({r.manipulation['probability']:.0%}, if it is fake)"
                )
        if not r.error and r.credentials.status != "none":  # beside the verdict, never part of it
            typer.echo(f"{r.path}: {r.credentials.message}")
        if r.evidence_frames and not as_json:
            typer.echo(f"{r.path}: {len(r.evidence_frames)} evidence frame(s) in {frames}")
    if failed == len(inputs):
        raise typer.Exit(1)


def _file_stem(path: Path) -> str:
    """<stem>-<hash of the path>: a name per input, distinct for same-named files in two folders."""
    import hashlib

    return f"{path.stem}-{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"


def _save_evidence(folder: Path, path: Path, prediction) -> None:
    """<stem>-<hash of the path>_person<T>_frame<N>_fake<probability>.jpg per evidence frame; each frame then
    names its file instead of carrying the JPEG."""
    import base64

    folder.mkdir(parents=True, exist_ok=True)
    for e in prediction.evidence_frames:
        target = folder / f"{_file_stem(path)}_person{e.track}_frame{e.frame_idx}_fake{e.fake_probability:.3f}.jpg"
        target.write_bytes(base64.b64decode(e.jpeg))
        e.file, e.jpeg = str(target), None


def _save_overlays(folder: Path, path: Path, prediction, frames) -> None:
    """<stem>-<hash of the path>[_frame<N>][_person<T>].png: each scored face's heatmap over its frame, its box
    outlined (person 0, the main face, has no suffix)."""
    import cv2

    from deepfake_detector.explain import overlay

    folder.mkdir(parents=True, exist_ok=True)
    by_index = {frame.index: frame for frame in frames}
    stem = _file_stem(path)
    for face in prediction.faces:
        drawn = overlay(by_index[face.frame_idx].rgb, face.heatmap, face.crop_box)
        x1, y1, x2, y2 = (round(v) for v in face.box)
        cv2.rectangle(drawn, (x1, y1), (x2, y2), (255, 255, 255), 2)
        suffix = f"_frame{face.frame_idx}" if prediction.media == "video" else ""
        suffix += f"_person{face.track}" if face.track else ""
        cv2.imwrite(str(folder / f"{stem}{suffix}.png"), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))


def _predict_to_parquet(
    inputs: list[Path],
    model: Path,
    out: Path,
    cropped: bool | None,
    engine: str | None,
    ray_address: str | None,
    workers: int | None,
) -> None:
    from pydantic import ValidationError

    from deepfake_detector.batch import score_to_parquet
    from deepfake_detector.config import ComputeConfig
    from deepfake_detector.logs import UserError

    if not inputs:
        typer.echo("error: no images or videos in the given paths", err=True)
        raise typer.Exit(2)
    try:
        given = {"engine": engine, "ray_address": ray_address, "ray_workers": workers}
        compute = ComputeConfig(**{key: value for key, value in given.items() if value is not None})
        counts = score_to_parquet(inputs, model, out, compute, cropped)
    except (ValidationError, UserError, FileNotFoundError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps({"out": str(out), **counts}))
    if counts["scored"] and counts["failed"] == counts["scored"]:
        raise typer.Exit(1)


@data_app.command("index")
def data_index(
    root: Annotated[Path, typer.Argument(help="The dataset's root folder, in its published layout.")],
    adapter: Annotated[str, typer.Option(help="ffpp, dfdc, dfdc_faces, celebdf, dftimit, folder or demo.")],
    option: Annotated[list[str], typer.Option(help="Adapter option KEY=VALUE (e.g. compression=c40).")] = [],  # noqa: B006
    seed: int = 42,
) -> None:
    """Index a dataset and print its manifest summary as JSON: counts by label, method and split."""
    from deepfake_detector.config import DatasetConfig, SourceConfig, SplitConfig
    from deepfake_detector.data.adapters import LayoutError
    from deepfake_detector.data.manifest import index_dataset

    options = dict(o.split("=", 1) for o in option)
    dataset = DatasetConfig(name=root.name, adapter=adapter, source=SourceConfig(path=str(root)), options=options)
    try:
        df = index_dataset(root, dataset, SplitConfig(), seed)
    except LayoutError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    summary = {
        "root": str(root),
        "adapter": adapter,
        "items": len(df),
        "by_label": df["label"].map({0: "real", 1: "fake"}).value_counts().to_dict(),
        "by_method": df["method"].value_counts().to_dict(),
        "by_split": df["split"].value_counts().to_dict(),
        "by_media": df["media"].value_counts().to_dict(),
        "groups": int(df["group"].nunique()),
    }
    typer.echo(json.dumps(summary, indent=2, sort_keys=True))


@app.command()
def serve(
    model: Annotated[
        Path, typer.Option(help="Model folder to serve (the package stage writes artifacts/model).")
    ] = MODEL_DIR,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
    host: Annotated[
        str, typer.Option(help="Interface; 0.0.0.0 exposes the service beyond this machine.")
    ] = "127.0.0.1",
    params: Annotated[Path, typer.Option(help="params.yaml whose `serve` section sets upload limits.")] = Path(
        "params.yaml"
    ),
) -> None:
    """Start the BentoML service with the upload page at http://HOST:PORT/."""
    from deepfake_detector.config import ServeConfig, load_params
    from deepfake_detector.models.spec import ModelSpec
    from deepfake_detector.serving.server import serve as run_server

    try:
        ModelSpec.load(model)  # fail here, with the fix, rather than inside the server process
    except FileNotFoundError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    config = load_params(params).serve if params.exists() else ServeConfig()
    raise typer.Exit(run_server(model, port=port, host=host, config=config))


@app.command("web-site")
def web_site(
    out: Annotated[Path, typer.Argument(help="Folder to write (index.html, static/, web_model/).")],
    model: Annotated[
        Path, typer.Option(help="Model folder with the web model files (the package stage's).")
    ] = MODEL_DIR,
) -> None:
    """The upload page with its in-browser check as plain files, for any static file server (docs/serving.md)."""
    from deepfake_detector.serving.web import write_site

    try:
        write_site(model, out)
    except FileNotFoundError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {out}: serve it with any static file server, e.g. python -m http.server -d {out}")


if __name__ == "__main__":
    app()
