"""Published segmentation results of papers 000, 002 and 004 (docs/references.md).

Data only, quoted exactly as printed (values are strings, so "0.92" stays "0.92"), each with the
paper, the table it comes from, the dataset, the method and how it was supervised. The numbers
were obtained on the papers' own datasets, splits and image sizes: they are context for this
project's results, not a 1:1 comparison. The report shows them beside this run's
(``xaicut.report``, section "Published results").
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from xaicut.metrics import METRICS

METRIC_TITLES = {"dice": "Dice", "jaccard": "Jaccard", "accuracy": "Accuracy",
                 "sensitivity": "Sensitivity", "specificity": "Specificity",
                 "precision": "Precision", "threshold_jaccard": "Threshold Jaccard"}
"""Column titles of ``xaicut.metrics.METRICS`` in the report's comparison tables."""
TABLE_COLUMNS = ("Paper", "Source", "Dataset", "Method", "Supervision")
"""The descriptive columns of ``published_table``; metric columns follow, then "As published"."""


@dataclass(frozen=True)
class PublishedResult:
    """One method's published scores.

    ``scores`` maps a metric of ``xaicut.metrics.METRICS`` to (its name in the paper, the value
    exactly as printed); ``unit`` is ``"%"`` for percentages or ``""`` for fractions in [0, 1].
    """

    paper: str
    source: str
    dataset: str
    method: str
    supervision: str
    unit: str
    scores: dict[str, tuple[str, str]]


HUSNI = "000 Husni et al. (XAI + graph cuts)"
ADITYAJA = "002 Adityaja et al. (UnSegMedGAT)"
LI = "004 Li et al. (USL-Net)"
HAM10000_SPLIT = "HAM10000 (ISIC 2018 training images), own split, 1,803 test images"
ISIC_2018 = "ISIC-2018 lesion segmentation"
USL_NAMES = {"accuracy": "ACC", "dice": "DIC", "jaccard": "JAC", "sensitivity": "SEN",
             "specificity": "SPE"}


def _named(names: dict[str, str], values: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Pair the metrics of ``names`` (in its order) with the printed ``values``."""
    return {metric: (name, value) for (metric, name), value in zip(names.items(), values,
                                                                    strict=True)}


PUBLISHED = (
    PublishedResult(HUSNI, "Table 2", HAM10000_SPLIT, "U-Net (ResNet152 encoder)",
                    "pixel masks + class labels", "",
                    {"dice": ("Dice Score", "0.92"), "jaccard": ("Jaccard Index", "0.85")}),
    PublishedResult(HUSNI, "Table 2", HAM10000_SPLIT, "XAI segmentation (SHAP + Grad-CAM, "
                    "graph cut)", "class labels", "",
                    {"dice": ("Dice Score", "0.84"), "jaccard": ("Jaccard Index", "0.75")}),
    PublishedResult(ADITYAJA, "Table I", ISIC_2018, "UnSegMedGATc", "none", "%",
                    {"jaccard": ("mIOU", "74.76"), "dice": ("Dice", "85.17")}),
    PublishedResult(ADITYAJA, "Table I", ISIC_2018, "UnSegMedGAT", "none", "%",
                    {"jaccard": ("mIOU", "73.75"), "dice": ("Dice", "84.34")}),
    PublishedResult(LI, "Table 3", f"{ISIC_2018}, 224 × 224", "U-Net", "pixel masks", "%",
                    _named(USL_NAMES, ("94.9", "86.1", "78.3", "90.5", "96.6"))),
    PublishedResult(LI, "Tables 3, 4", f"{ISIC_2018}, 224 × 224", "USL-Net (proposed)", "none",
                    "%", _named(USL_NAMES, ("88.5", "80.8", "68.3", "90.9", "87.8"))),
)


def published_table(results: tuple[PublishedResult, ...] = PUBLISHED) -> pd.DataFrame:
    """One row per result: ``TABLE_COLUMNS``, a column per metric any result reports (titles of
    ``METRIC_TITLES``, cells as printed with their unit, empty if not reported) and "As published"
    (the paper's metric names)."""
    metrics = [m for m in METRICS if any(m in r.scores for r in results)]
    rows = []
    for r in results:
        cells = {METRIC_TITLES[m]: (f"{r.scores[m][1]} {r.unit}".strip() if m in r.scores else "")
                 for m in metrics}
        names = ", ".join(name for name, _ in r.scores.values())
        rows.append(dict(zip(TABLE_COLUMNS, (r.paper, r.source, r.dataset, r.method,
                                             r.supervision)), **cells, **{"As published": names}))
    return pd.DataFrame(rows)
