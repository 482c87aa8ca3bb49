"""Logging for stages and the CLI: readable lines with rich, warnings and errors stand out."""

from __future__ import annotations

import logging
import os
import warnings


def setup_logging(level: int = logging.INFO) -> None:
    from rich.console import Console
    from rich.logging import RichHandler

    # logs go to stderr: stdout is for results (`deepfake predict --json` prints one JSON object per line)
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False)],
        force=True,
    )
    for noisy in ("lightning", "lightning.pytorch", "PIL", "matplotlib", "bentoml", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")


class UserError(Exception):
    """Bad input or config the user can fix; printed as one message, without a traceback."""


def run_stage(main) -> None:
    """Run a stage's main(); known user errors exit 1 with their message, not a traceback."""
    import sys

    from deepfake_detector.config import ConfigError

    setup_logging()
    try:
        main()
    except (UserError, ConfigError, FileNotFoundError) as err:
        logging.getLogger("stage").error("%s", err)
        sys.exit(1)
