"""Stage ``evaluate``: overlap metrics of every stage's masks against the ground truth.

Input: bool masks per image and stage, ground-truth masks from the manifest. Output: the tables of
``docs/data-contracts.md`` §7. All metrics are fractions in [0, 1] computed from the confusion
counts of the two masks; an empty prediction of an empty truth scores 1 (nothing to find, nothing
found).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from xaicut.io import read_mask

log = logging.getLogger(__name__)

METRICS = ("dice", "jaccard", "accuracy", "sensitivity", "specificity")
SUMMARY_COLUMNS = ("variant", "stage", "n_images", "dice_mean", "dice_median", "jaccard_mean",
                   "jaccard_median", "accuracy_mean", "sensitivity_mean", "specificity_mean")


def _ratio(num: int, den: int) -> float:
    return float(num) / den if den else 1.0


def mask_metrics(prediction: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Return Dice, Jaccard, accuracy, sensitivity and specificity of two same-shape masks."""
    if prediction.shape != truth.shape:
        raise ValueError(f"mask shapes differ: {prediction.shape} vs {truth.shape}")
    p, t = prediction.astype(bool), truth.astype(bool)
    tp = int(np.count_nonzero(p & t))
    fp = int(np.count_nonzero(p & ~t))
    fn = int(np.count_nonzero(~p & t))
    tn = p.size - tp - fp - fn
    return {
        "dice": _ratio(2 * tp, 2 * tp + fp + fn),
        "jaccard": _ratio(tp, tp + fp + fn),
        "accuracy": _ratio(tp + tn, p.size),
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
    }


def summarise(per_image: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Aggregate ``per_image`` rows (contracts §7) into summary rows grouped by ``by``."""
    grouped = per_image.groupby(by, sort=False)
    summary = grouped.agg(
        n_images=("image_id", "count"),
        dice_mean=("dice", "mean"), dice_median=("dice", "median"),
        jaccard_mean=("jaccard", "mean"), jaccard_median=("jaccard", "median"),
        accuracy_mean=("accuracy", "mean"), sensitivity_mean=("sensitivity", "mean"),
        specificity_mean=("specificity", "mean"),
    ).reset_index()
    return summary[by + list(SUMMARY_COLUMNS[2:])]


def evaluate_results(manifest: pd.DataFrame, mask_dirs: list[str]) -> dict[str, pd.DataFrame]:
    """Score every mask in ``mask_dirs`` (``masks/{variant}/{stage}/{shard}``) against its
    ground truth.

    Returns ``per_image``, ``summary`` and ``per_class`` tables (contracts §7); variants and
    stages keep the order in which their folders are given.
    """
    rows_by_id = manifest.set_index("image_id")
    rows = []
    for folder in tqdm(mask_dirs, desc="evaluate", unit="folder"):
        stage, variant = Path(folder).parent.name, Path(folder).parents[1].name
        for path in sorted(Path(folder).glob("*.png")):
            rec = rows_by_id.loc[path.stem]
            scores = mask_metrics(read_mask(path), read_mask(rec.mask_path))
            rows.append({"image_id": path.stem, "dx": rec.dx, "variant": variant, "stage": stage,
                         **scores})
    per_image = pd.DataFrame(rows, columns=["image_id", "dx", "variant", "stage", *METRICS])
    summary = summarise(per_image, ["variant", "stage"])
    log.info("summary:\n%s", summary.to_string(index=False))
    return {"per_image": per_image, "summary": summary,
            "per_class": summarise(per_image, ["variant", "dx", "stage"])}
