"""Saliency-threshold study (paper 001 §5-6): how well do binarised attribution maps overlap the
lesion?

Every map in [0, 1] is binarised at the thresholds 0.0, 0.1, …, 1.0 (``values > t``) and compared
with the ground-truth lesion mask by the Jaccard index. From these curves:

* ``best_thresholds``: per split, method and group (``all`` or one diagnosis) the threshold with the
  highest mean Jaccard, with J-min, J-mean, J-SD and J-max there (paper 001 Tables 2-3);
* ``outcome_table``: per split, method, diagnosis and classification outcome (``correct`` when the
  predicted class is the true class, else ``wrong``) the same figures (Tables 4-5);
* ``mann_whitney``: per split, method and diagnosis, a two-sided Mann-Whitney U test of the
  Jaccard indices of correctly vs wrongly classified images at the method's best threshold over
  all images of the split (Table 6, ``scipy.stats.mannwhitneyu``);
* ``auto_thresholds``: per method the best threshold over all **validation** images, which
  ``fuse.threshold_method: auto`` applies to the test split. Ground-truth masks of the
  validation split are used for this choice; test masks never are.

Ground truth enters here and in ``evaluate`` only. File layout: ``docs/data-contracts.md`` §4b.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import mannwhitneyu
from tqdm import tqdm

from xaicut.attribution_store import attribution_path, read_attribution, stored_images
from xaicut.io import read_mask

log = logging.getLogger(__name__)

THRESHOLDS = tuple(round(0.1 * i, 1) for i in range(11))
CURVE_COLUMNS = ("image_id", "split", "dx", "method", "predicted_class", "true_class", "correct",
                 "threshold", "jaccard")


def jaccard_curve(values: np.ndarray, truth: np.ndarray,
                  thresholds: tuple[float, ...] = THRESHOLDS) -> np.ndarray:
    """Jaccard index of ``values > t`` against ``truth`` for each threshold ``t``; float (T,).

    ``values``: float (H, W) map; ``truth``: bool (H, W). Two empty masks score 1 (as
    ``xaicut.metrics.mask_metrics``). Sorting once makes every threshold a binary search.
    """
    if values.shape != truth.shape:
        raise ValueError(f"map shape {values.shape} differs from mask shape {truth.shape}")
    cuts = np.asarray(thresholds, dtype=np.float64)
    everything = np.sort(values.ravel().astype(np.float64))
    lesion = np.sort(values[truth].astype(np.float64))
    predicted = everything.size - np.searchsorted(everything, cuts, side="right")
    overlap = lesion.size - np.searchsorted(lesion, cuts, side="right")
    union = predicted + lesion.size - overlap
    return np.where(union > 0, overlap / np.maximum(union, 1), 1.0)


def study_curves(manifest: pd.DataFrame, map_dirs: list[str | os.PathLike],
                 methods: list[str]) -> pd.DataFrame:
    """Jaccard curves of every image in ``map_dirs`` (attribution shards) and method that has a
    ground-truth mask (manifest ``has_mask``; the others are passed over).

    Returns the long table ``CURVE_COLUMNS``: one row per image, method and threshold.
    """
    rows = manifest[manifest.has_mask].set_index("image_id")
    records = []
    for directory in map_dirs:
        images = [i for i in stored_images(directory, methods) if i in rows.index]
        for image_id in tqdm(images, desc=f"thresholds {Path(directory).name}", unit="img"):
            rec = rows.loc[image_id]
            truth = read_mask(rec.mask_path)
            for method in methods:
                item = read_attribution(attribution_path(directory, image_id, method))
                correct = item.predicted_class == item.true_class
                for t, j in zip(THRESHOLDS, jaccard_curve(item.values, truth)):
                    records.append((image_id, rec.split, rec.dx, method, item.predicted_class,
                                    item.true_class, correct, t, float(j)))
    return pd.DataFrame(records, columns=list(CURVE_COLUMNS))


def jaccard_stats(group: pd.DataFrame) -> pd.Series:
    """Best threshold (highest mean Jaccard; the lowest of tied thresholds) of a curves group and
    the Jaccard figures there."""
    means = group.groupby("threshold").jaccard.mean()
    best = float(means.idxmax())
    at_best = group[group.threshold == best].jaccard
    return pd.Series({"n_images": int(at_best.size), "best_threshold": best,
                      "j_min": at_best.min(), "j_mean": at_best.mean(),
                      "j_sd": at_best.std(ddof=1) if at_best.size > 1 else 0.0,
                      "j_max": at_best.max()})


def best_thresholds(curves: pd.DataFrame) -> pd.DataFrame:
    """Paper 001 Tables 2-3: per split, method and group (``all``, then each dx)."""
    overall = curves.assign(group="all")
    per_class = curves.assign(group=curves.dx)
    both = pd.concat([overall, per_class])
    return (both.groupby(["split", "method", "group"], sort=False)[["threshold", "jaccard"]]
            .apply(jaccard_stats).reset_index().astype({"n_images": int}))


def outcome_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Paper 001 Tables 4-5: per split, method, dx and outcome (``correct`` / ``wrong``)."""
    labelled = curves.assign(outcome=np.where(curves.correct, "correct", "wrong"))
    return (labelled.groupby(["split", "method", "dx", "outcome"])[["threshold", "jaccard"]]
            .apply(jaccard_stats).reset_index().astype({"n_images": int}))


def mann_whitney(curves: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """Paper 001 Table 6: correct vs wrong Jaccard per split, method and dx, at the method's best
    threshold over the split (``best``: :func:`best_thresholds`). U and p are NaN when one side
    has no image."""
    overall = best[best.group == "all"].set_index(["split", "method"]).best_threshold
    records = []
    for (split, method, dx), group in curves.groupby(["split", "method", "dx"]):
        at = group[group.threshold == overall[(split, method)]]
        correct, wrong = at[at.correct].jaccard, at[~at.correct].jaccard
        u, p = (mannwhitneyu(correct, wrong, alternative="two-sided")
                if len(correct) and len(wrong) else (np.nan, np.nan))
        records.append((split, method, dx, overall[(split, method)], len(correct), len(wrong),
                        float(u), float(p)))
    return pd.DataFrame(records, columns=["split", "method", "dx", "threshold", "n_correct",
                                          "n_wrong", "u", "p_value"])


def auto_thresholds(best: pd.DataFrame) -> dict[str, float]:
    """Per method the best threshold over all validation images (``ValueError`` if there are
    none: ``fuse.threshold_method: auto`` needs a validation split)."""
    val = best[(best.split == "val") & (best.group == "all")]
    if val.empty:
        raise ValueError("threshold 'auto' needs attribution maps of validation images; "
                         "the validation split is empty (config split.val)")
    return {str(row.method): float(row.best_threshold) for row in val.itertuples()}
