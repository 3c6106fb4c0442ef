"""The report's own tables (pure pandas): stage order, grids over stages, the examples and
failures picked, and this run's rows beside the published results.

The tables that compare stages are the ``evaluate`` rule's (``xaicut.comparison``); these only
rearrange what the report shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xaicut.classes import class_names
from xaicut.comparison import MAIN_STAGE, VARIANT, method_name, pipeline_sorted
from xaicut.layout import UNET_STAGE
from xaicut.metrics import METRICS
from xaicut.published import METRIC_TITLES, TABLE_COLUMNS


def stage_order(*tables: pd.DataFrame | None) -> list[str]:
    """Stages in order of first appearance in ``tables`` (``None`` ones skipped)."""
    return list(dict.fromkeys(str(s) for t in tables if t is not None for s in t["stage"]))


def sort_by_stage(table: pd.DataFrame, stages: list[str]) -> pd.DataFrame:
    """``table`` rows in the order of ``stages`` (stable)."""
    rank = {s: i for i, s in enumerate(stages)}
    return table.sort_values("stage", key=lambda column: column.astype(str).map(rank),
                             kind="stable")


def ranking_stage(stages: list[str]) -> str:
    """The stage whose Dice orders the examples and failures: the main stage, else the last."""
    return MAIN_STAGE if MAIN_STAGE in stages else stages[-1]


def stage_grid(table: pd.DataFrame, index: str, values: str, stages: list[str]) -> pd.DataFrame:
    """``values`` of ``table`` with a row per ``index`` value and a column per stage, stages in
    the order of ``stages``."""
    grid = table.pivot_table(index=index, columns="stage", values=values)
    present = [s for s in stages if s in set(table["stage"].astype(str))]
    return grid.reindex(columns=present).rename_axis(columns=None)


def class_stage_dice(per_class: pd.DataFrame, stages: list[str]) -> pd.DataFrame:
    """Mean Dice per class (rows, sorted class names, index ``dx``) and stage (columns)."""
    grid = stage_grid(per_class, "dx", "dice_mean", stages)
    return grid.reindex(index=class_names(grid.index))


def pick_examples(per_image: pd.DataFrame, n: int, stage: str) -> list[str]:
    """Ids of up to ``n`` images at evenly spaced ranks of ``stage`` Dice, best first."""
    ranked = per_image[per_image["stage"] == stage].sort_values(
        ["dice", "image_id"], ascending=[False, True]
    ).drop_duplicates("image_id")
    if n <= 0 or ranked.empty:
        return []
    positions = np.linspace(0, len(ranked) - 1, min(n, len(ranked))).round().astype(int)
    return ranked["image_id"].iloc[np.unique(positions)].tolist()


def worst_images(per_image: pd.DataFrame, n: int, stage: str) -> list[str]:
    """Ids of the ``n`` images with the lowest ``stage`` Dice, worst first (ties by id)."""
    ranked = per_image[per_image["stage"] == stage].sort_values(["dice", "image_id"])
    return list(dict.fromkeys(ranked["image_id"]))[:n]


def predicted_dx(predictions: pd.DataFrame, image_id: str) -> str:
    """The classifier's predicted class of a test image (``test_predictions.csv``)."""
    return str(predictions.loc[predictions["image_id"] == image_id, "predicted_dx"].iloc[0])


def worst_table(per_image: pd.DataFrame, predictions: pd.DataFrame, ids: list[str],
                stages: list[str]) -> pd.DataFrame:
    """Per image of ``ids`` (in order): dx, predicted dx and the Dice of every stage."""
    rows = per_image[per_image["image_id"].isin(ids)]
    grid = stage_grid(rows, "image_id", "dice", stages).reindex(ids)
    grid.insert(0, "dx", rows.drop_duplicates("image_id").set_index("image_id")["dx"])
    grid.insert(1, "predicted dx", [predicted_dx(predictions, i) for i in ids])
    return grid.reset_index()


def status_counts(segmentations: pd.DataFrame) -> pd.DataFrame:
    """Exported images per split and status (``segmentations.csv``), in order of appearance."""
    return segmentations.groupby(["split", "status"], sort=False).size().rename(
        "n_images").reset_index()


def mask_coverage_text(manifest: pd.DataFrame) -> str:
    """"N of M images have a ground-truth mask; scores use those only." (or that none has)."""
    n, total = int(manifest["has_mask"].sum()), len(manifest)
    if n == 0:
        return (f"None of the {total} images has a ground-truth mask: the scoring stages "
                "(threshold study, U-Net baseline, evaluate) were left out.")
    return f"{n} of {total} images have a ground-truth mask; scores use those only."


def our_results(summary: pd.DataFrame, source: str) -> pd.DataFrame:
    """This run's main stage and U-Net (when run) rows of ``summary`` (every variant) in the
    columns of ``xaicut.published.published_table``, means to 3 decimals; ``source``: the
    summary's file, quoted."""
    stages = summary["stage"].astype(str)
    rows = pipeline_sorted(summary[stages.isin([UNET_STAGE, MAIN_STAGE])], first=UNET_STAGE)
    results = []
    for _, row in rows.iterrows():
        described = ("this run", source,
                     f"HAM10000, this run's test split ({int(row['n_images'])} images)",
                     f"{method_name(str(row['stage']))} [{row[VARIANT]}]",
                     "pixel masks" if row["stage"] == UNET_STAGE else "class labels")
        cells = {METRIC_TITLES[m]: f"{row[f'{m}_mean']:.3f}" for m in METRICS
                 if f"{m}_mean" in row.index}
        results.append(dict(zip(TABLE_COLUMNS, described), **cells,
                            **{"As published": "means over images"}))
    return pd.DataFrame(results)

