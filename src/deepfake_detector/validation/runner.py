"""Running the suites with Great Expectations: an in-memory context, one validation per suite, data docs on
disk, each result flattened into a CheckResult for the report."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import great_expectations as gx  # GX analytics are off: see the package's __init__
import numpy as np
import pandas as pd
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from deepfake_detector.config import ValidateConfig
from deepfake_detector.io import atomic_dir, write_json
from deepfake_detector.validation.report import CheckResult, ValidationReport, render_html
from deepfake_detector.validation.suites import Suite, faces_suites, manifest_suites

MAX_EXAMPLES = 20  # offending rows listed per check in the report
FIXED_RUN_TIME = datetime(2000, 1, 1, tzinfo=UTC)  # see run_gx: reports must not carry the clock


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
    suites = manifest_suites(manifest, cfg, root, holdout_methods or []) + faces_suites(faces, manifest, cfg, root)
    with atomic_dir(out_dir) as tmp:
        results, pages = run_gx(suites, (tmp / "gx_docs").resolve())  # GX wants an absolute path
        report = ValidationReport(all(r.success for r in results), results, out_dir, pages)
        write_json(report.to_dict(), tmp / "report.json")
        (tmp / "report.txt").write_text(report.to_text())
        (tmp / "index.html").write_text(render_html(report))
    return report


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


def run_gx(suites: list[Suite], docs_dir: Path) -> tuple[list[CheckResult], dict[str, str]]:
    context = _gx_context(docs_dir)
    # GX names runs after the clock, which would make the report (a DVC output) differ on every run; the run
    # is named after the tables it checked instead, at a fixed time, so the same tables give the same files
    run_id = RunIdentifier(run_name=f"tables-{_fingerprint(suites)}", run_time=FIXED_RUN_TIME)
    source = context.data_sources.add_pandas("tables")
    results: list[CheckResult] = []
    for fr in suites:
        batch_def = source.add_dataframe_asset(fr.suite).add_batch_definition_whole_dataframe("all")
        suite = context.suites.add(gx.ExpectationSuite(name=fr.suite, expectations=fr.expectations))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=fr.suite, data=batch_def, suite=suite)
        )
        fmt = {"result_format": "COMPLETE", "unexpected_index_column_names": fr.ids}
        run = definition.run(batch_parameters={"dataframe": fr.df}, result_format=fmt, run_id=run_id)
        results += [_to_check(fr, r) for r in run.results]
    context.build_data_docs()
    for page in docs_dir.rglob("*.html"):
        _strip_build_noise(page)
    pages = {p.parts[-4]: str(p.relative_to(docs_dir.parent)) for p in docs_dir.glob("validations/*/*/*/*.html")}
    return results, pages


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
GX_TIME = re.compile(r"\d{8}T\d{6}\.\d{6}Z")  # GX's timestamp format (run times, batch load times, asset URLs)


def _strip_build_noise(page: Path) -> None:
    """GX data docs carry the clock (build and load times) and random element ids: the ids get numbers in
    page order and every time reads as the fixed run time, so the same results render to the same bytes."""
    numbers: dict[str, str] = {}
    text = GX_TIME.sub(FIXED_RUN_TIME.strftime("%Y%m%dT%H%M%S.%fZ"), page.read_text())
    text = UUID.sub(lambda m: numbers.setdefault(m.group(0), f"id{len(numbers)}"), text)
    page.write_text(text)


def _fingerprint(suites: list[Suite]) -> str:
    digest = hashlib.sha256()
    for fr in suites:
        digest.update(fr.suite.encode())
        digest.update(pd.util.hash_pandas_object(fr.df, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:12]


def _to_check(fr: Suite, r: Any) -> CheckResult:
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
