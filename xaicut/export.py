"""Stage ``export``: the deliverable, one mask per image in one folder and a table to review.

Input: the manifest (contracts §1: the images), the exported stage's mask folder of every
segmented shard (§5-6), the shards' attribution maps (§4: the classifier's prediction) and
graph-cut status tables (§6).
Output (§6b): ``segmentations/{image_id}_segmentation.png`` (0/255, the image's own size, named
like HAM10000 masks, so the folder can be fed back as a masks folder) and ``segmentations.csv``
with one row per image: the exported variant and stage, its status, lesion area, label-free
confidence (``xaicut.confidence``) and the classifier's prediction. No ground-truth mask is
read.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from xaicut.attribution_store import attribution_path, read_attribution
from xaicut.confidence import segmentation_confidence
from xaicut.ingest import MASK_SUFFIX
from xaicut.io import atomic_directories, read_mask, read_rgb, write_csv
from xaicut.layout import Layout
from xaicut.shards import AUTO_EXPORT_STAGES, stage_variant

log = logging.getLogger(__name__)

EXPORT_COLUMNS = ("image_id", "dx", "split", "variant", "stage", "status", "area_fraction",
                  "confidence", "predicted_dx", "predicted_probability")
EMPTY = "empty"
"""Status of an exported mask without a lesion pixel (a stage without a status table)."""


@dataclass(frozen=True)
class ExportPlan:
    """What is exported: the classifier ``variant``'s ``stage`` masks; the attribution
    ``method`` whose stored prediction is quoted, with the classifier's ``classes`` (output
    order)."""

    variant: str
    stage: str
    method: str
    classes: tuple[str, ...]

    @property
    def mask_variant(self) -> str:
        """The variant folder the masks come from (``image_prior`` for the Otsu lesion); the
        table's ``variant``."""
        return stage_variant(self.variant, self.stage)


def auto_export_stage(student_history: str | os.PathLike | None, min_agreement: float) -> str:
    """The stage ``export.stage: auto`` exports, chosen without ground truth: ``student_graphcut``
    when the student's Dice with its teacher's pseudo-labels of the held-out validation images
    (``history.csv`` of ``train_student``, at its kept epoch of lowest validation loss) is at
    least ``min_agreement`` — it learned to reproduce them — else ``graphcut`` (also without a
    student, ``student_history`` None)."""
    if student_history is None:
        return AUTO_EXPORT_STAGES[1]
    history = pd.read_csv(student_history)
    agreement = float(history.loc[history.val_loss.idxmin(), "val_dice"])
    stage = AUTO_EXPORT_STAGES[0] if agreement >= min_agreement else AUTO_EXPORT_STAGES[1]
    log.info("export.stage auto: the student reproduces its teacher's held-out pseudo-labels at "
             "Dice %.3f (threshold %.2f): exporting %s", agreement, min_agreement, stage)
    return stage


def exported_mask_name(image_id: str) -> str:
    """File name of an image's exported mask, HAM10000 style: ``{image_id}_segmentation.png``."""
    return f"{image_id}{MASK_SUFFIX}.png"


def mask_status(stage: str, image_id: str, mask_empty: bool, statuses: pd.Series) -> str:
    """The exported mask's status: the graph cut's (segment status tables) for a graph-cut
    stage, else ``ok`` or ``empty``."""
    status = statuses.get((image_id, stage))
    if status is not None:
        return str(status)
    return EMPTY if mask_empty else "ok"


def export_shard_rows(rows: pd.DataFrame, mask_dir: Path, maps_dir: Path, plan: ExportPlan,
                      statuses: pd.Series, out_dir: Path) -> list[dict]:
    """Copy the exported masks of one shard's ``rows`` (manifest rows) into ``out_dir`` and
    return their table rows. ``mask_dir``: the shard's folder of the exported stage;
    ``maps_dir``: the shard's attribution folder."""
    records = []
    for rec in rows.itertuples(index=False):
        source = mask_dir / f"{rec.image_id}.png"
        mask = read_mask(source)
        shutil.copyfile(source, out_dir / exported_mask_name(rec.image_id))
        attribution = read_attribution(attribution_path(maps_dir, rec.image_id, plan.method))
        records.append({
            "image_id": rec.image_id, "dx": rec.dx, "split": rec.split,
            "variant": plan.mask_variant, "stage": plan.stage,
            "status": mask_status(plan.stage, rec.image_id, not mask.any(), statuses),
            "area_fraction": round(float(mask.mean()), 6),
            "confidence": round(segmentation_confidence(mask, read_rgb(rec.image_path)), 6),
            "predicted_dx": plan.classes[attribution.predicted_class],
            "predicted_probability": round(attribution.predicted_probability, 6),
        })
    return records


def read_statuses(status_tables: list[str | os.PathLike]) -> pd.Series:
    """Graph-cut status per (image_id, stage) from the segment status tables (contracts §6)."""
    tables = [pd.read_csv(p, usecols=["image_id", "stage", "status"]) for p in status_tables]
    if not tables:
        return pd.Series(dtype=str)
    return pd.concat(tables).set_index(["image_id", "stage"])["status"]


def export_segmentations(shards: dict[str, pd.DataFrame], layout: Layout,
                         status_tables: list[str | os.PathLike], plan: ExportPlan,
                         out_dir: str | os.PathLike, out_csv: str | os.PathLike) -> pd.DataFrame:
    """Write the segmentations folder and table of one dataset.

    ``shards``: shard name → its manifest rows (contracts §1); the masks of the plan's stage
    (``Layout.masks`` of ``ExportPlan.mask_variant``) and the stored prediction of its variant
    (``Layout.attribution``) are read through ``layout``. The folder is filled beside ``out_dir``
    and moved into place at the end. Returns the table (``EXPORT_COLUMNS``, sorted by image id),
    also written to ``out_csv``.
    """
    statuses = read_statuses(status_tables)
    records: list[dict] = []
    with atomic_directories([out_dir]) as (folder,):
        for shard, rows in tqdm(shards.items(), desc="export", unit="shard"):
            records += export_shard_rows(rows, layout.masks(plan.mask_variant, plan.stage, shard),
                                         layout.attribution(plan.variant, shard), plan, statuses,
                                         folder)
    table = pd.DataFrame(records, columns=list(EXPORT_COLUMNS))
    table = table.sort_values("image_id").reset_index(drop=True)
    write_csv(table, out_csv)
    log.info("exported %d images (%s, %s) to %s", len(table), plan.mask_variant, plan.stage,
             out_dir)
    return table
