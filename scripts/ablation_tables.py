"""Tables of an ablation's results.json (variant -> its runs, one per seed), for scripts/ablation.py and
scripts/write_results.py. Light on purpose: writing the docs must not import the training code."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

# Columns of runs_table in this order, each shown only when some run has it.
FIXED_COLUMNS = {
    "val_frame_auc": "val AUC",
    "in_domain_frame_auc": "in-domain frame AUC",
    "in_domain_item_auc": "in-domain item AUC",
}
LAST_COLUMNS = {
    "unseen_item_auc": "pooled unseen AUC",
    "val_ece": "val ECE",
    "val_ece_cross_fitted": "val ECE cross-fitted",
    "train_seconds": "train s",
}
AGGREGATION_COLUMN = "video frames by"  # train.video_aggregation as each run's calibration chose it on validation
UNSEEN = re.compile(r"unseen_(.+)_item_auc")
HELD_OUT = re.compile(r"heldout_(?:(.+)_)?item_auc")  # heldout_item_auc; early runs named the method


def _values(runs: list[dict], key: str) -> list[float]:
    return [r[key] for r in runs if isinstance(r.get(key), int | float)]


def _interval_keys(key: str) -> tuple[str, str]:
    """The bootstrap interval fields of an AUC key (the pooled one has its own name)."""
    stem = "unseen_auc" if key == "unseen_item_auc" else key.removesuffix("_item_auc")
    return f"{stem}_ci_low", f"{stem}_ci_high"


def mean_sd(values: list[float], digits: int = 3) -> str:
    """The mean, "± sample standard deviation" from two values on; "-" without any."""
    if not values:
        return "-"
    text = f"{np.mean(values):.{digits}f}"
    return text if len(values) == 1 else f"{text} ± {np.std(values, ddof=1):.{digits}f}"


def _cell(runs: list[dict], key: str) -> str:
    """mean ± sd over the seeds; one run's AUC with its 95% bootstrap interval, when it has one."""
    values = _values(runs, key)
    if key == "train_seconds":
        return mean_sd(values, digits=0)
    low, high = _interval_keys(key)
    if len(runs) == 1 and values and runs[0].get(low) is not None:
        return f"{values[0]:.3f} [{runs[0][low]:.2f}, {runs[0][high]:.2f}]"
    return mean_sd(values)


def _header(key: str, runs: list[dict]) -> str | None:
    """The column header of a metric key; None for keys that are not a column."""
    if key in FIXED_COLUMNS or key in LAST_COLUMNS:
        return FIXED_COLUMNS.get(key) or LAST_COLUMNS[key]
    if found := HELD_OUT.fullmatch(key):
        return f"held-out {found[1] + ' ' if found[1] else ''}item AUC"
    if found := UNSEEN.fullmatch(key):
        size = next((r[f"unseen_{found[1]}_n"] for r in runs if f"unseen_{found[1]}_n" in r), None)
        return f"unseen {found[1]}" + (f" ({size})" if size else "") + " AUC"
    return None


def metric_columns(results: dict[str, list[dict]]) -> dict[str, str]:
    """Metric key -> column header for the metrics some run has: fixed ones first, then held-out methods and
    unseen datasets in the order the runs name them, then pooled unseen, calibration and time."""
    runs = [run for runs_of in results.values() for run in runs_of]
    keys = [key for key in dict.fromkeys(k for run in runs for k in run) if _values(runs, key)]
    columns = {key: header for key in keys if (header := _header(key, runs))}
    order = [*FIXED_COLUMNS, *(k for k in columns if k not in FIXED_COLUMNS | LAST_COLUMNS), *LAST_COLUMNS]
    return {key: columns[key] for key in order if key in columns}


def markdown(table: pd.DataFrame) -> str:
    """The table as markdown, every cell as written (tabulate would reformat "0.500" as 0.5)."""
    return table.to_markdown(index=False, disable_numparse=True)


def runs_table(results: dict[str, list[dict]]) -> pd.DataFrame:
    """A row per variant: its seeds, then each metric's mean ± standard deviation over them (a single run's
    AUC with its 95% bootstrap interval)."""
    columns = metric_columns(results)
    aggregated = any(r.get("video_aggregation") for runs in results.values() for r in runs)
    rows = []
    for variant, runs in results.items():
        row = {"variant": variant, "seeds": ", ".join(str(r["seed"]) for r in runs), "n seeds": len(runs)}
        row |= {header: _cell(runs, key) for key, header in columns.items()}
        if aggregated:  # item AUCs of videos score each video by the rule its run's validation videos chose
            row[AGGREGATION_COLUMN] = ", ".join(dict.fromkeys(r.get("video_aggregation") or "-" for r in runs))
        rows.append(row)
    return pd.DataFrame(rows)


def lodo_table(results: dict[str, list[dict]]) -> pd.DataFrame:
    """Leave-one-dataset-out, a row per variant and training dataset: its AUC when the model trains on all the
    other training datasets, beside the AUCs on it of the models trained on one other dataset alone (pooling
    sources should beat each of them). Means over seeds; the interval is the first seed's run's."""
    trained = {
        (runs[0]["recipe"], tuple(runs[0]["trained_on"])): runs for runs in results.values() if "trained_on" in runs[0]
    }
    rows = []
    for recipe in dict.fromkeys(recipe for recipe, _ in trained):
        training = max((s for r, s in trained if r == recipe), key=len)
        for left in training:
            others = tuple(t for t in training if t != left)
            lodo_runs = trained.get((recipe, others), [])
            alone_runs = {s: trained.get((recipe, (s,)), []) for s in others}
            lodo, alone = _mean_auc(lodo_runs, left), [_mean_auc(runs, left) for runs in alone_runs.values()]
            compared = len(others) > 1 and lodo is not None and None not in alone  # of two sets, it is one alone
            alone_text = ", ".join(f"{s} {_auc_text(runs, left)}" for s, runs in alone_runs.items())
            rows.append(
                {
                    "variant": recipe,
                    "left out": left,
                    "trained on": "+".join(others),
                    "AUC on the left-out set": _auc_text(lodo_runs, left),
                    "one source alone": alone_text,
                    "above each": ("yes" if lodo > max(alone) else "no") if compared else "-",
                }
            )
    return pd.DataFrame(rows)


def _mean_auc(runs: list[dict], dataset: str) -> float | None:
    """Mean unseen item AUC of `dataset` over the runs' seeds (None: no run, or one class only)."""
    values = _values(runs, f"unseen_{dataset}_item_auc")
    return float(np.mean(values)) if values else None


def _auc_text(runs: list[dict], dataset: str) -> str:
    """_mean_auc with the first run's 95% interval."""
    auc = _mean_auc(runs, dataset)
    if auc is None:
        return "-"
    low = runs[0].get(f"unseen_{dataset}_ci_low")
    return f"{auc:.3f}" if low is None else f"{auc:.3f} [{low:.2f}, {runs[0][f'unseen_{dataset}_ci_high']:.2f}]"
