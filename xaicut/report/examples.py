"""The example images of a variant's sections: their thumbnails, maps and masks, read through
the results layout, and the pictures of the example grid's cells.

Every scored stage's mask and every configured method's map of a test image exist once
``evaluate`` has run, so a missing one stops the report (the reader names the file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from xaicut.attribution_store import attribution_path, read_attribution
from xaicut.io import read_mask, read_rgb
from xaicut.report.loading import ReportSettings, VariantTables
from xaicut.report.overlays import (
    PREDICTION_COLOUR,
    TRUTH_COLOUR,
    jet_overlay,
    outline,
    thumbnail,
    thumbnail_mask,
)
from xaicut.report.tables import predicted_dx
from xaicut.shards import image_shards, stage_variant

TRUTH = "truth"
"""Key of the ground-truth mask among an example's masks and the grid's columns."""
IMAGE = "image"
"""Key of the image itself among the grid's columns."""


@dataclass(frozen=True)
class Example:
    """One test image of one variant, as thumbnails: the image, each method's [0, 1] map and
    each stage's boolean mask (and the ground truth, key ``TRUTH``), with its labels and the
    Dice of each stage."""

    image_id: str
    dx: str
    predicted_dx: str
    dice: dict[str, float]
    image: np.ndarray
    maps: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]


def load_examples(settings: ReportSettings, manifest: pd.DataFrame, tables: VariantTables,
                  ids: list[str], stages: list[str]) -> list[Example]:
    """The examples of ``ids`` (test images with a ground-truth mask) of ``tables``' variant."""
    shards = image_shards(manifest, settings.shard_size)
    records = manifest.set_index("image_id")
    return [_load_example(settings, tables, records.loc[i], i, shards[i], stages) for i in ids]


def _load_example(settings: ReportSettings, tables: VariantTables, record: pd.Series,
                  image_id: str, shard: str, stages: list[str]) -> Example:
    layout, variant = settings.layout, tables.variant
    maps_dir = layout.attribution(variant, shard)
    mask_paths = {s: layout.masks(stage_variant(variant, s), s, shard) / f"{image_id}.png"
                  for s in stages}
    mask_paths[TRUTH] = Path(record["mask_path"])
    rows = tables.per_image[tables.per_image["image_id"] == image_id]
    return Example(
        image_id=image_id,
        dx=str(record["dx"]),
        predicted_dx=predicted_dx(tables.predictions, image_id),
        dice=dict(zip(rows["stage"].astype(str), rows["dice"])),
        image=thumbnail(read_rgb(record["image_path"])),
        maps={m: thumbnail(read_attribution(attribution_path(maps_dir, image_id, m)).values)
              for m in settings.methods},
        masks={key: thumbnail_mask(read_mask(path)) for key, path in mask_paths.items()},
    )


def grid_columns(methods: list[str], stages: list[str]) -> dict[str, str]:
    """The example grid's columns, key → title: the image, every method's map, every other
    stage's mask, the ground truth."""
    return {IMAGE: "Image", **{m: f"{m} map" for m in methods},
            **{s: f"{s} mask" for s in stages if s not in methods}, TRUTH: "Ground truth"}


def grid_cell(example: Example, key: str) -> np.ndarray:
    """The picture of one grid cell. Maps are jet overlays with the binarised map's contour;
    masks are contours on the image, with the ground truth as a thin second contour."""
    if key == IMAGE:
        return example.image
    if key in example.maps:
        overlay = jet_overlay(example.image, example.maps[key])
        return outline(overlay, example.masks[key], PREDICTION_COLOUR)
    if key == TRUTH:
        return outline(example.image, example.masks[TRUTH], TRUTH_COLOUR)
    drawn = outline(example.image, example.masks[key], PREDICTION_COLOUR)
    return outline(drawn, example.masks[TRUTH], TRUTH_COLOUR, thickness=1)


def tile_title(example: Example, stage: str) -> str:
    """A gallery title: id, true and predicted dx, ``stage`` Dice."""
    return (f"{example.image_id}: {example.dx} (predicted {example.predicted_dx})\n"
            f"{stage} Dice {example.dice[stage]:.3f}")


def row_label(example: Example, stage: str) -> str:
    """The label left of an example row: id, true and predicted dx, ``stage`` Dice."""
    return (f"{example.image_id}\ndx: {example.dx}\npredicted: {example.predicted_dx}\n"
            f"{stage} Dice: {example.dice[stage]:.3f}")
