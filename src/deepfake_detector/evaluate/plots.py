"""PNG plots of the curves (for model cards and PR comments; DVC renders its own from the CSVs)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from deepfake_detector.io import atomic_path  # noqa: E402


def save_curves(
    curves: dict[str, pd.DataFrame],
    x: str,
    y: str,
    title: str,
    path: Path,
    xlim: tuple[float, float] | None = (0, 1),
    marker: str | None = None,
) -> Path:
    """One line per named curve (e.g. frame and video level, or one model each); xlim None: fit the data."""
    fig, ax = plt.subplots(figsize=(4.5, 4), dpi=100)
    for name, points in curves.items():
        ax.plot(points[x], points[y], label=name, marker=marker)
    if x == "fpr":
        ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set(xlabel=x, ylabel=y, title=title, xlim=xlim, ylim=(0, 1.02))
    ax.legend(loc="lower right" if x == "fpr" else "lower left")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
