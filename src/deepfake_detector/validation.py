"""Data checks before training: Great Expectations suites over the manifest and faces tables.

Per-file facts (does it decode, is the crop blank, is it a near-duplicate of a crop in another split)
are computed here into derived columns, one file at a time; GX then judges every column and renders
data docs. The report names each offending file or group and says how to fix it.
"""

from __future__ import annotations

import html
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from deepfake_detector.config import ValidateConfig
from deepfake_detector.data.splits import held_out_fakes
from deepfake_detector.io import atomic_dir, write_json
from deepfake_detector.media.hashing import phash64
from deepfake_detector.tables import MEDIA, SPLITS

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # before GX is imported: never phone home

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402
from great_expectations.data_context.types.base import (  # noqa: E402
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

BLANK_STD = 2.0  # grey levels: a crop flatter than this carries no face
BLANK_MEAN = 2.0  # grey levels: a crop darker than this is black
MAX_EXAMPLES = 20  # offending rows listed per check in the report


@dataclass
class CheckResult:
    """One expectation's outcome, flattened for the report."""

    suite: str
    expectation: str
    column: str
    expected: str
    success: bool
    observed: str
    unexpected_count: int = 0
    examples: list[str] = field(default_factory=list)  # offending files / groups / splits
    fix: str = ""


@dataclass
class ValidationReport:
    success: bool
    results: list[CheckResult]
    out_dir: Path
    gx_pages: dict[str, str] = field(default_factory=dict)  # suite -> GX data docs page, relative to out_dir

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success]

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "n_checks": len(self.results),
            "n_failed": len(self.failures),
            "results": [asdict(r) for r in self.results],
            "gx_pages": self.gx_pages,
        }

    def to_text(self) -> str:
        status = "PASSED" if self.success else f"FAILED ({len(self.failures)} of {len(self.results)} checks)"
        lines = [f"Data validation {status}", f"Details: {self.out_dir / 'index.html'}", ""]
        for r in self.failures:
            lines.append(f"FAIL {r.suite}.{r.column}: {r.expectation} {r.expected}")
            lines.append(f"  observed: {r.observed}")
            lines += [f"  - {ex}" for ex in r.examples]
            if r.unexpected_count > len(r.examples):
                lines.append(f"  ... and {r.unexpected_count - len(r.examples)} more")
            lines += [f"  fix: {r.fix}", ""]
        lines += [
            f"ok   {r.suite}.{r.column}: {r.expectation} {r.expected} ({r.observed})"
            for r in self.results
            if r.success
        ]
        return "\n".join(lines) + "\n"


@dataclass
class _Frame:
    """One GX suite over one derived table; `ids` are the columns that name an offending row."""

    suite: str
    df: pd.DataFrame
    ids: list[str]
    expectations: list[gxe.Expectation]


def validate_tables(
    manifest: pd.DataFrame,
    faces: pd.DataFrame,
    cfg: ValidateConfig,
    out_dir: Path,
    *,
    root: Path | None = None,
    holdout_methods: list[str] | None = None,
) -> ValidationReport:
    """Run every suite, write report.json, report.txt, index.html and GX data docs to `out_dir`.

    Relative paths in the tables are resolved against `root` (default: the working directory).
    Fakes of `holdout_methods` (data.holdout_methods) are exempt from the one-split-per-group check.
    """
    root = Path(root) if root is not None else Path.cwd()
    out_dir = Path(out_dir)
    frames = _manifest_frames(manifest, cfg, root, holdout_methods or []) + _faces_frames(faces, manifest, cfg, root)
    with atomic_dir(out_dir) as tmp:
        results, pages = _run_gx(frames, (tmp / "gx_docs").resolve())  # GX wants an absolute path
        report = ValidationReport(all(r.success for r in results), results, out_dir, pages)
        write_json(report.to_dict(), tmp / "report.json")
        (tmp / "report.txt").write_text(report.to_text())
        (tmp / "index.html").write_text(_render_html(report))
    return report


# ---------------------------------------------------------------- manifest


def _manifest_frames(manifest: pd.DataFrame, cfg: ValidateConfig, root: Path, holdout_methods: list[str]) -> list[_Frame]:
    m = manifest.reset_index(drop=True).copy()
    exists, decodes = [], []
    for path, media in tqdm(
        zip(m["path"], m["media"], strict=True), total=len(m), desc="check media", unit="file"
    ):
        file = _resolve(path, root)
        exists.append(file.is_file())
        decodes.append(_media_decodes(file, media) if exists[-1] else None)  # missing: judged by `exists`
    m["exists"] = exists
    m["decodes"] = pd.array(decodes, dtype="boolean")

    items = _Frame(
        "manifest",
        m,
        ["path"],
        [
            _unique(
                "item_id",
                "Each item_id must be unique: drop the duplicate rows or fix the adapter's id scheme.",
            ),
            _in_set(
                "label",
                [0, 1],
                "label must be 0 (real) or 1 (fake): fix the dataset adapter's label mapping.",
            ),
            _in_set("split", list(SPLITS), "split must be train, val or test: re-run the split stage."),
            _in_set("media", list(MEDIA), "media must be image or video: fix the dataset adapter."),
            _in_set(
                "exists",
                [True],
                "File missing: re-run ingest, or fix the path (relative to the project root).",
            ),
            _in_set(
                "decodes", [True], "File is corrupt or not a readable image/video: re-download it or drop it."
            ),
        ],
    )
    splits = _Frame(
        "manifest_splits",
        _class_ratios(m),
        ["split", "n_real", "n_fake"],
        [
            _between(
                "class_ratio",
                1.0,
                cfg.max_class_ratio,
                f"Classes in this split are more unbalanced than validate.max_class_ratio={cfg.max_class_ratio}: "
                "subsample the majority class (datasets[].max_items) or add data of the minority class.",
            )
        ],
    )
    groups = _Frame(
        "manifest_groups",
        # held-out fakes sit in test while their group's reals train, by design (leave-methods-out)
        _group_splits(m[~held_out_fakes(m, holdout_methods)]),
        ["group", "splits"],
        [
            _in_set(
                "n_splits",
                [1],
                "A group (source video / identity) is in several splits, so test faces leak into training: "
                "fix the split stage so that each group lands in exactly one split.",
            )
        ],
    )
    return [items, splits, groups]


def _media_decodes(file: Path, media: str) -> bool:
    if media == "video":
        cap = cv2.VideoCapture(str(file))
        try:
            ok, frame = cap.read() if cap.isOpened() else (False, None)
            return bool(ok) and frame is not None
        finally:
            cap.release()
    return _image_decodes(file)


def _class_ratios(m: pd.DataFrame) -> pd.DataFrame:
    """Majority/minority count per split; splits holding a single class are not judged."""
    counts = pd.crosstab(m["split"].astype(str), m["label"]).reindex(columns=[0, 1], fill_value=0)
    counts = counts[(counts[0] > 0) & (counts[1] > 0)]
    return pd.DataFrame(
        {
            "split": counts.index.astype(str),
            "n_real": counts[0].to_numpy(),
            "n_fake": counts[1].to_numpy(),
            "class_ratio": (counts.max(axis=1) / counts.min(axis=1)).to_numpy(dtype=float),
        }
    )


def _group_splits(m: pd.DataFrame) -> pd.DataFrame:
    by_group = m.astype({"group": str, "split": str}).groupby("group")["split"]
    return pd.DataFrame(
        {
            "n_splits": by_group.nunique(),
            "splits": by_group.agg(lambda s: ",".join(sorted(set(s)))),
        }
    ).reset_index()


# ---------------------------------------------------------------- faces


def _faces_frames(
    faces: pd.DataFrame, manifest: pd.DataFrame, cfg: ValidateConfig, root: Path
) -> list[_Frame]:
    items = manifest[["item_id", "dataset", "split"]].drop_duplicates("item_id")
    f = faces.reset_index(drop=True).merge(items, on="item_id", how="left", indicator=True)
    f["in_manifest"] = f.pop("_merge") == "both"
    f["dataset"] = f["dataset"].astype(str).where(f["in_manifest"], "(not in manifest)")
    f["split"] = f["split"].astype(str).where(f["in_manifest"], "")

    rows = _Frame(
        "faces",
        f,
        ["item_id", "frame_idx"],
        [
            _in_set(
                "in_manifest",
                [True],
                "Face rows refer to items missing from the manifest: re-run the faces stage.",
            ),
            _between(
                "prob", 0.0, 1.0, "Detector probability must be in [0, 1]: check the face detector's output."
            ),
        ],
    )
    found = f[f["found"].astype(bool)].reset_index(drop=True)
    crops = _Frame(
        "faces_crops",
        _crop_facts(found, cfg.max_hash_distance, root),
        ["crop_path", "split", "duplicate_of"],
        [
            _not_null("face_px", "Found faces need a size: fix the faces stage."),
            _between(
                "face_px",
                cfg.min_face_px,
                cfg.max_face_px,
                f"Face size outside [{cfg.min_face_px}, {cfg.max_face_px}] source px: raise faces.min_face_px to drop "
                "tiny detections, or check the source resolution.",
            ),
            _in_set("crop_exists", [True], "Crop missing: re-run the faces stage."),
            _in_set(
                "crop_decodes",
                [True],
                "Crop unreadable (corrupt file): delete it and re-run the faces stage.",
            ),
            _in_set(
                "crop_not_blank",
                [True],
                "Crop is blank (black or flat): check frame extraction and the crop box, then re-run the faces stage.",
            ),
            _in_set(
                "unique_across_splits",
                [True],
                f"The same image (perceptual hash within {cfg.max_hash_distance} bits) is in two splits: "
                "drop one copy, or give both items one group so they share a split.",
            ),
        ],
    )
    datasets = _Frame(
        "faces_datasets",
        _detection_rates(f),
        ["dataset", "n_found", "n_rows"],
        [
            _between(
                "detection_rate",
                cfg.min_detection_rate,
                1.0,
                f"Fewer than {cfg.min_detection_rate:.0%} of frames have a face: check faces.min_prob and "
                "faces.detect_max_side, or drop faceless media from the dataset.",
            )
        ],
    )
    return [rows, crops, datasets]


def _crop_facts(found: pd.DataFrame, max_hash_distance: int, root: Path) -> pd.DataFrame:
    """Per crop: exists, decodes, not blank (each judged only where the previous holds), phash duplicates."""
    exists, decodes, not_blank, hashes = [], [], [], []
    for path in tqdm(found["crop_path"], desc="check crops", unit="crop"):
        file = _resolve(path, root)
        ok_file = bool(path) and file.is_file()
        grey = _open_grey(file) if ok_file else None
        pixels = np.asarray(grey) if grey is not None else None
        blank = pixels is not None and (pixels.std() <= BLANK_STD or pixels.mean() <= BLANK_MEAN)
        exists.append(ok_file)
        decodes.append(grey is not None if ok_file else None)
        not_blank.append(not blank if pixels is not None else None)
        # Blank crops all hash alike; they are reported as blank, not as duplicates.
        hashes.append(phash64(grey) if pixels is not None and not blank else None)
    out = found.copy()
    out["crop_exists"] = exists
    out["crop_decodes"] = pd.array(decodes, dtype="boolean")
    out["crop_not_blank"] = pd.array(not_blank, dtype="boolean")
    dup = _cross_split_duplicates(hashes, out["split"].to_numpy(dtype=str), max_hash_distance)
    crop_paths = out["crop_path"].to_numpy(dtype=object)
    hashed = [h is not None for h in hashes]
    out["unique_across_splits"] = pd.array(
        [(d < 0) if h else None for d, h in zip(dup, hashed, strict=True)], "boolean"
    )
    out["duplicate_of"] = [str(crop_paths[d]) if d >= 0 else "" for d in dup]
    return out


def _cross_split_duplicates(hashes: list[int | None], splits: np.ndarray, max_distance: int) -> np.ndarray:
    """For each crop, the index of a crop in another split within `max_distance` bits, else -1."""
    n = len(hashes)
    dup = np.full(n, -1, dtype=np.int64)
    idx = np.array([i for i, h in enumerate(hashes) if h is not None], dtype=np.int64)
    if len(idx) < 2:
        return dup
    h = np.array([hashes[i] for i in idx], dtype=np.uint64)
    _, s = np.unique(splits[idx], return_inverse=True)
    for start in range(0, len(idx), 1024):  # chunks keep the distance matrix at ~8 MB per 1k rows
        block = slice(start, start + 1024)
        close = np.bitwise_count(h[block, None] ^ h[None, :]) <= max_distance
        hit = close & (s[block, None] != s[None, :])
        has = hit.any(axis=1)
        dup[idx[block][has]] = idx[hit[has].argmax(axis=1)]
    return dup


def _detection_rates(f: pd.DataFrame) -> pd.DataFrame:
    by = f.assign(found=f["found"].astype(bool)).groupby("dataset")["found"]
    out = pd.DataFrame({"n_found": by.sum().astype(int), "n_rows": by.size()}).reset_index()
    out["detection_rate"] = out["n_found"] / out["n_rows"]
    return out


# ---------------------------------------------------------------- files


def _resolve(path: str, root: Path) -> Path:
    p = Path(str(path))
    return p if p.is_absolute() else root / p


def _image_decodes(file: Path) -> bool:
    """Fully decode (PIL raises on truncated data, where cv2 silently pads the missing rows)."""
    try:
        with Image.open(file) as im:
            im.draft("RGB", (256, 256))  # JPEG: decode at reduced scale; every byte is still read
            im.load()
        return True
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def _open_grey(file: Path) -> Image.Image | None:
    try:
        with Image.open(file) as im:
            return im.convert("L")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


# ---------------------------------------------------------------- GX


def _in_set(column: str, values: list, fix: str) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values, meta={"fix": fix})


def _between(column: str, lo: float, hi: float, fix: str) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=lo, max_value=hi, meta={"fix": fix})


def _unique(column: str, fix: str) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeUnique(column=column, meta={"fix": fix})


def _not_null(column: str, fix: str) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToNotBeNull(column=column, meta={"fix": fix})


def _gx_context(docs_dir: Path) -> Any:
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    site = {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    context.add_data_docs_site("local", site)
    return context


def _run_gx(frames: list[_Frame], docs_dir: Path) -> tuple[list[CheckResult], dict[str, str]]:
    context = _gx_context(docs_dir)
    source = context.data_sources.add_pandas("tables")
    results: list[CheckResult] = []
    for fr in frames:
        batch_def = source.add_dataframe_asset(fr.suite).add_batch_definition_whole_dataframe("all")
        suite = context.suites.add(gx.ExpectationSuite(name=fr.suite, expectations=fr.expectations))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=fr.suite, data=batch_def, suite=suite)
        )
        fmt = {"result_format": "COMPLETE", "unexpected_index_column_names": fr.ids}
        run = definition.run(batch_parameters={"dataframe": fr.df}, result_format=fmt)
        results += [_to_check(fr, r) for r in run.results]
    context.build_data_docs()
    pages = {
        p.parts[-4]: str(p.relative_to(docs_dir.parent)) for p in docs_dir.glob("validations/*/*/*/*.html")
    }
    return results, pages


def _to_check(fr: _Frame, r: Any) -> CheckResult:
    cfg = r.expectation_config
    kw = cfg.kwargs
    column = kw.get("column", "")
    if "value_set" in kw:
        expected = f"in {list(kw['value_set'])}"
    elif "min_value" in kw:
        expected = f"between {kw['min_value']} and {kw['max_value']}"
    else:
        expected = ""
    res = r.result or {}
    bad = int(res.get("unexpected_count") or 0)
    observed = f"{bad} of {res.get('element_count', 0)} rows unexpected"
    if res.get("missing_count"):
        observed += f", {res['missing_count']} not judged (an earlier check failed on them)"
    if (r.exception_info or {}).get("raised_exception"):
        observed = f"error: {r.exception_info.get('exception_message')}"
    rows = res.get("unexpected_index_list") or []
    return CheckResult(
        suite=fr.suite,
        expectation=cfg.type,
        column=column,
        expected=expected,
        success=bool(r.success),
        observed=observed,
        unexpected_count=bad,
        examples=[_describe_row(row, fr.ids, column) for row in rows[:MAX_EXAMPLES]],
        fix=(cfg.meta or {}).get("fix", ""),
    )


def _describe_row(row: dict, ids: list[str], column: str) -> str:
    """'<first id> (column=value, other ids...)', skipping empty values."""
    extras = [f"{column}={_plain(row.get(column))}"] + [
        f"{k}={_plain(row[k])}" for k in ids[1:] if k in row and str(_plain(row[k])) not in ("", "nan")
    ]
    return f"{_plain(row.get(ids[0]))} ({', '.join(extras)})"


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


# ---------------------------------------------------------------- HTML


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.4em;vertical-align:top;text-align:left}
.ok{color:#17692f}.fail{color:#b00020;font-weight:bold}code{background:#f3f3f3;padding:0 .2em}
ul{margin:.3em 0;padding-left:1.2em}small{color:#555}
"""


def _render_html(report: ValidationReport) -> str:
    """A self-contained page (no CDN: pipeline machines may be offline), linking to GX's per-suite pages."""
    e = html.escape
    status = "PASSED" if report.success else f"FAILED: {len(report.failures)} of {len(report.results)} checks"
    rows = []
    for r in sorted(report.results, key=lambda r: r.success):  # failures first
        detail = ""
        if not r.success:
            items = "".join(f"<li><code>{e(x)}</code></li>" for x in r.examples)
            more = r.unexpected_count - len(r.examples)
            items += f"<li>... and {more} more</li>" if more > 0 else ""
            detail = f"<ul>{items}</ul><b>Fix:</b> {e(r.fix)}"
        page = report.gx_pages.get(r.suite)
        suite = f'<a href="{e(page)}">{e(r.suite)}</a>' if page else e(r.suite)
        cls, word = ("ok", "pass") if r.success else ("fail", "FAIL")
        rows.append(
            f'<tr><td class="{cls}">{word}</td><td>{suite}</td><td><code>{e(r.column)}</code></td>'
            f"<td>{e(r.expectation)} {e(r.expected)}</td><td>{e(r.observed)}{detail}</td></tr>"
        )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Data validation</title><style>{_CSS}</style></head>
<body>
<h1>Data validation <span class="{"ok" if report.success else "fail"}">{e(status)}</span></h1>
<p><small>Great Expectations suites over the manifest and faces tables. Suite names link to the GX data docs
pages; the <a href="gx_docs/index.html">GX index</a> needs internet access for its scripts.
Plain-text report: <a href="report.txt">report.txt</a>, machine-readable: <a href="report.json">report.json</a>.</small></p>
<table><tr><th></th><th>suite</th><th>column</th><th>expectation</th><th>observed</th></tr>
{"".join(rows)}
</table></body></html>
"""
