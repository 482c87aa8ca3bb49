"""The validation report: every check's outcome as report.json, report.txt and a self-contained HTML page."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


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
            f"ok   {r.suite}.{r.column}: {r.expectation} {r.expected} ({r.observed})" for r in self.results if r.success
        ]
        return "\n".join(lines) + "\n"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.4em;vertical-align:top;text-align:left}
.ok{color:#17692f}.fail{color:#b00020;font-weight:bold}code{background:#f3f3f3;padding:0 .2em}
ul{margin:.3em 0;padding-left:1.2em}small{color:#555}
"""


def render_html(report: ValidationReport) -> str:
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
Plain-text report: <a href="report.txt">report.txt</a>,
machine-readable: <a href="report.json">report.json</a>.</small></p>
<table><tr><th></th><th>suite</th><th>column</th><th>expectation</th><th>observed</th></tr>
{"".join(rows)}
</table></body></html>
"""
