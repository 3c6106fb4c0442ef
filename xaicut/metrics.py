"""Stage ``evaluate``: overlap metrics of every stage's masks against the ground truth.

Input: bool masks per image and stage, ground-truth masks from the manifest. Output: the tables of
``docs/data-contracts.md`` §7. All metrics are fractions in [0, 1] computed from the confusion
counts (TP, FP, FN, TN pixels) of the two masks, as in paper 004 eq. 4-10 and the ISIC-2018
challenge scoring (``isic-challenge-scoring``, checked in tests/test_metrics.py).

Empty-mask conventions: a ratio whose denominator is 0 scores 1. So an empty prediction of an
empty truth scores 1 on every metric (nothing to find, nothing found); an empty truth gives
sensitivity 1 whatever is predicted, and an empty prediction gives precision 1 whatever the truth
(its Dice and Jaccard are 0 when the truth is not empty). ``threshold_jaccard`` is the ISIC-2018
task 1 score: the image's Jaccard if it is at least ``THRESHOLD_JACCARD_CUTOFF``, else 0.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from xaicut.export import exported_mask_name
from xaicut.io import read_mask
from xaicut.shards import SPLITS

log = logging.getLogger(__name__)

METRICS = ("dice", "jaccard", "accuracy", "sensitivity", "specificity", "precision",
           "threshold_jaccard")
THRESHOLD_JACCARD_CUTOFF = 0.65
"""ISIC-2018 task 1: an image whose Jaccard is below this scores 0 in ``threshold_jaccard``."""
SUMMARY_AGGREGATES = {
    "n_images": ("image_id", "count"),
    "dice_mean": ("dice", "mean"), "dice_median": ("dice", "median"),
    "jaccard_mean": ("jaccard", "mean"), "jaccard_median": ("jaccard", "median"),
    "accuracy_mean": ("accuracy", "mean"), "sensitivity_mean": ("sensitivity", "mean"),
    "specificity_mean": ("specificity", "mean"), "precision_mean": ("precision", "mean"),
    "threshold_jaccard_mean": ("threshold_jaccard", "mean"),
}
"""Summary column -> (per-image column, aggregation), in the column order of contracts §7."""
SUMMARY_COLUMNS = ("variant", "stage", *SUMMARY_AGGREGATES)
BOOTSTRAP_SAMPLES = 2000


def _ratio(num: int, den: int) -> float:
    """``num / den``, or 1 when ``den`` is 0 (the empty-mask convention of the module doc)."""
    return float(num) / den if den else 1.0


def bootstrap_interval(values: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the mean of ``values`` (1-D; per-image scores, or
    per-image paired differences for a paired interval), ``BOOTSTRAP_SAMPLES`` resamples."""
    rng = np.random.default_rng(seed)
    means = rng.choice(values, (BOOTSTRAP_SAMPLES, len(values))).mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def mask_metrics(prediction: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Score a predicted mask against the ground truth (same shape; nonzero = lesion).

    Returns every metric of ``METRICS`` as a fraction in [0, 1] (paper 004 eq. 4-10; sensitivity
    is their recall, ``threshold_jaccard`` the ISIC-2018 score).
    """
    if prediction.shape != truth.shape:
        raise ValueError(f"mask shapes differ: {prediction.shape} vs {truth.shape}")
    p, t = prediction.astype(bool), truth.astype(bool)
    tp = int(np.count_nonzero(p & t))
    fp = int(np.count_nonzero(p & ~t))
    fn = int(np.count_nonzero(~p & t))
    tn = p.size - tp - fp - fn
    jaccard = _ratio(tp, tp + fp + fn)
    return {
        "dice": _ratio(2 * tp, 2 * tp + fp + fn),
        "jaccard": jaccard,
        "accuracy": _ratio(tp + tn, p.size),
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "precision": _ratio(tp, tp + fp),
        "threshold_jaccard": jaccard if jaccard >= THRESHOLD_JACCARD_CUTOFF else 0.0,
    }


def summarise(per_image: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Aggregate ``per_image`` rows (contracts §7) into summary rows grouped by ``by``."""
    summary = per_image.groupby(by, sort=False).agg(**SUMMARY_AGGREGATES).reset_index()
    return summary[by + list(SUMMARY_COLUMNS[2:])]


def evaluate_results(manifest: pd.DataFrame,
                     mask_dirs: Sequence[tuple[str, str, str | os.PathLike]]
                     ) -> dict[str, pd.DataFrame]:
    """Score every mask of ``mask_dirs``, (variant, stage, folder of one shard's masks), of an
    image that has a ground-truth mask (manifest ``has_mask``) against it; the others are
    passed over.

    Returns ``per_image``, ``summary`` and ``per_class`` tables (contracts §7); variants and
    stages keep the order in which their folders are given.
    """
    rows_by_id = manifest[manifest.has_mask].set_index("image_id")
    rows = []
    for variant, stage, folder in tqdm(mask_dirs, desc="evaluate", unit="folder"):
        for path in sorted(Path(folder).glob("*.png")):
            if path.stem not in rows_by_id.index:
                continue
            rec = rows_by_id.loc[path.stem]
            scores = mask_metrics(read_mask(path), read_mask(rec.mask_path))
            rows.append({"image_id": path.stem, "dx": rec.dx, "variant": variant, "stage": stage,
                         **scores})
    per_image = pd.DataFrame(rows, columns=["image_id", "dx", "variant", "stage", *METRICS])
    summary = summarise(per_image, ["variant", "stage"])
    log.info("%d of %d images have a ground-truth mask; scores use those only:\n%s",
             len(rows_by_id), len(manifest), summary.to_string(index=False))
    return {"per_image": per_image, "summary": summary,
            "per_class": summarise(per_image, ["variant", "dx", "stage"])}


def score_segmentations(segmentations: pd.DataFrame, truth_paths: pd.Series,
                        folder: str | os.PathLike) -> pd.DataFrame:
    """Score the exported masks of ``folder`` (``{image_id}_segmentation.png``, listed in the
    ``segmentations`` table, contracts §6b) of every image with a path in ``truth_paths``
    (image id → ground-truth mask). Returns the table's key columns (``image_id, dx, split,
    variant, stage``) with every metric of ``METRICS``."""
    keys = ["image_id", "dx", "split", "variant", "stage"]
    scored = segmentations[segmentations.image_id.isin(truth_paths.index)]
    rows = [
        {**{k: getattr(rec, k) for k in keys},
         **mask_metrics(read_mask(Path(folder) / exported_mask_name(rec.image_id)),
                        read_mask(truth_paths[rec.image_id]))}
        for rec in tqdm(scored.itertuples(index=False), total=len(scored), desc="score",
                        unit="img")
    ]
    split_order = {split: i for i, split in enumerate(SPLITS)}
    return pd.DataFrame(rows, columns=[*keys, *METRICS]).sort_values(
        "split", key=lambda s: s.map(split_order), kind="stable").reset_index(drop=True)
