"""Data checks before training: Great Expectations suites over the manifest and faces tables.

Per-file facts (facts.py: does it decode, is the crop blank, is it a near-duplicate of a crop in another
split) are computed into derived columns, one file at a time; the suites (suites.py) say what each column must
hold; GX judges every column and renders data docs (runner.py). The report (report.py) names each offending
file or group and says how to fix it.
"""

import os

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # before GX is imported (suites, runner): never phone home

from deepfake_detector.validation.facts import _cross_split_duplicates  # noqa: E402
from deepfake_detector.validation.report import CheckResult, ValidationReport  # noqa: E402
from deepfake_detector.validation.runner import validate_tables  # noqa: E402

__all__ = ["CheckResult", "ValidationReport", "_cross_split_duplicates", "validate_tables"]
