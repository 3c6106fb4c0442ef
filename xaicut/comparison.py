"""Stage ``evaluate``, second part: the tables that compare stages (docs/data-contracts.md §7).

Input: the ``per_image`` and ``summary`` tables of ``xaicut.metrics``. Output: ``stage_ablation``
(every stage's means in pipeline order) and ``unet_vs_xai`` (paper 000 Table 2 form: the
supervised U-Net beside the label-only stages, Dice and Jaccard as mean and sample SD over
images). The report shows both as they are written.
"""

from __future__ import annotations

import pandas as pd

from xaicut.layout import UNET_STAGE

MAIN_STAGE = "graphcut"
"""The main label-only segmentation stage: it orders the report's examples and failures."""
PIPELINE_ORDER = ("fused", "otsu", "graphcut", "graphcut_*", "otsu_student",
                  "otsu_student_graphcut", "student", "student_graphcut", UNET_STAGE)
"""Stage kinds in pipeline order; attribution-map masks (any other stage) come before them."""
STUDENT_NAMES = {"student": "Self-training student (taught by the XAI graph cut)",
                 "student_graphcut": "Self-training student + graph cut",
                 "otsu_student": "Student taught by the Otsu graph cut (no classifier)",
                 "otsu_student_graphcut": "Otsu-taught student + graph cut (no classifier)"}
"""Readable names of the self-training stages (``xaicut.student``)."""
VARIANT = "variant"
"""Column of the metrics tables naming the classifier variant (or ``supervised``,
``image_prior``)."""


def pipeline_rank(stage: str) -> int:
    """0 for an attribution-map mask, else 1 + the stage's position in ``PIPELINE_ORDER``."""
    kind = "graphcut_*" if stage.startswith("graphcut_") else stage
    return PIPELINE_ORDER.index(kind) + 1 if kind in PIPELINE_ORDER else 0


def pipeline_sorted(table: pd.DataFrame, first: str | None = None) -> pd.DataFrame:
    """Rows by variant (first appearance), then pipeline position of the stage (``first``
    before all others), then original order."""
    def rank(stage: str) -> int:
        return -1 if stage == first else pipeline_rank(stage)

    keys = pd.DataFrame({"rank": table["stage"].astype(str).map(rank).to_numpy()})
    if VARIANT in table.columns:
        variants = {v: i for i, v in enumerate(dict.fromkeys(table[VARIANT]))}
        keys.insert(0, VARIANT, table[VARIANT].map(variants).to_numpy())
    return table.iloc[keys.sort_values(list(keys.columns), kind="stable").index]


def group_keys(table: pd.DataFrame) -> list[str]:
    """The columns a metrics table's rows are grouped by: variant (when present) and stage."""
    return [VARIANT, "stage"] if VARIANT in table.columns else ["stage"]


def is_label_only_segmentation(stage: str) -> bool:
    """Whether a stage is a label-only segmentation: the fused mask, a graph cut or a student."""
    return stage in ("fused", MAIN_STAGE, *STUDENT_NAMES) or stage.startswith("graphcut_")


def method_name(stage: str) -> str:
    """A readable name of a segmentation stage for the comparison tables."""
    if stage == UNET_STAGE:
        return "U-Net (supervised)"
    if stage == "fused":
        return "XAI: fused attribution masks"
    if stage in STUDENT_NAMES:
        return STUDENT_NAMES[stage]
    if stage.startswith("graphcut_"):
        return f"XAI segmentation (graph cut, {stage.removeprefix('graphcut_')} seeds)"
    return "XAI segmentation (graph cut)" if stage == MAIN_STAGE else stage


def stage_ablation(summary: pd.DataFrame) -> pd.DataFrame:
    """A summary table's group keys, image count and every ``*_mean`` column, rows by variant
    and stages in pipeline order."""
    means = [c for c in summary.columns if c.endswith("_mean")]
    return pipeline_sorted(summary)[group_keys(summary) + ["n_images", *means]]


def unet_vs_xai(per_image: pd.DataFrame) -> pd.DataFrame:
    """Paper 000 Table 2 form: per (variant and) stage of the U-Net and the label-only
    segmentations, the method name, image count, and Dice and Jaccard as mean and sample SD
    over images (SD empty for one image); U-Net first."""
    stages = per_image["stage"].astype(str)
    scored = (stages == UNET_STAGE) | stages.map(is_label_only_segmentation)
    rows = pipeline_sorted(per_image[scored], first=UNET_STAGE)
    keys = group_keys(rows)
    table = rows.groupby(keys, sort=False).agg(
        n_images=("dice", "count"), dice_mean=("dice", "mean"), dice_sd=("dice", "std"),
        jaccard_mean=("jaccard", "mean"), jaccard_sd=("jaccard", "std"),
    ).reset_index()
    table.insert(len(keys) - 1, "method", table["stage"].astype(str).map(method_name))
    return table
