"""Stage summaries: counts in, counts out, skipped and why; logged and written as JSON."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from deepfake_detector.io import write_json
from deepfake_detector.paths import SUMMARIES

MAX_LISTED = 20  # skipped files listed by name in the log (all are in the JSON)


@dataclass
class StageSummary:
    stage: str
    counts: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def skip(self, path: str, reason: str) -> None:
        self.skipped.append({"path": path, "reason": reason})

    def write(self) -> None:
        log = logging.getLogger(self.stage)
        for key, value in self.counts.items():
            log.info("%s: %s", key, value)
        reasons = Counter(s["reason"].split(":")[-1].strip()[:80] for s in self.skipped)
        log.info("skipped: %d %s", len(self.skipped), dict(reasons) if reasons else "")
        for s in self.skipped[:MAX_LISTED]:
            log.warning("skipped %s: %s", s["path"], s["reason"])
        write_json(
            {"stage": self.stage, "counts": self.counts, "skipped": self.skipped}, SUMMARIES / f"{self.stage}.json"
        )
