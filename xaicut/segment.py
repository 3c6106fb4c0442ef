"""Stages ``segment`` and ``otsu``: seeds from attribution maps and image evidence, then GMM +
graph cut; the Otsu lesion of the image alone.

Input: the manifest (image paths) and one shard of attribution maps (``docs/data-contracts.md`` §4).
Output (§6): per image one graph-cut mask per seed mode asked for (``xaicut.seeds``; the first
mode is stage ``graphcut``, the others ``graphcut_{mode}``: ``xaicut.shards.segment_stage_modes``)
and a status table; ``otsu_masks``: the ``otsu`` baseline mask (image evidence only, no
classifier: once per run). The image evidence (vignette, Otsu lesion) is computed once per image
for all its seed modes (``xaicut.seeds.ImageEvidence``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from xaicut.attribution_store import attribution_path, read_attribution, stored_images
from xaicut.graphcut import GraphCutParams, graph_cut_refine
from xaicut.io import read_rgb, write_mask
from xaicut.seeds import ImageEvidence, SeedParams, evidence_seed

log = logging.getLogger(__name__)

STATUS_COLUMNS = ("image_id", "stage", "seed_status", "status", "iterations", "changed_ratio",
                  "seconds")


def segment_shard(manifest: pd.DataFrame, maps_dir: str | os.PathLike, methods: list[str],
                  stage_modes: dict[str, str], out_dirs: dict[str, str | os.PathLike],
                  seed_params: SeedParams, params: GraphCutParams) -> pd.DataFrame:
    """Segment every image whose maps are in ``maps_dir`` (:func:`segment_images`); return the
    status table."""
    def load_maps(image_id: str) -> dict[str, np.ndarray]:
        return {m: read_attribution(attribution_path(maps_dir, image_id, m)).values
                for m in methods}

    return segment_images(manifest, stored_images(maps_dir, methods), load_maps, stage_modes,
                          out_dirs, seed_params, params)


def segment_images(manifest: pd.DataFrame, image_ids: list[str],
                   load_maps: Callable[[str], dict[str, np.ndarray]],
                   stage_modes: dict[str, str], out_dirs: dict[str, str | os.PathLike],
                   seed_params: SeedParams, params: GraphCutParams) -> pd.DataFrame:
    """Write one graph-cut mask per stage of every image; return the status table
    (``STATUS_COLUMNS``).

    ``manifest``: rows with ``image_id`` and ``image_path``; ``load_maps``: image id → its
    attribution maps (an empty dict serves mode ``otsu``); ``stage_modes``: stage name → its
    seed mode (``xaicut.shards.segment_stage_modes``, or a part of it); ``out_dirs``: each stage
    name → mask folder (``{image_id}.png``, 0/255). ``seconds`` in the table: the stage's seed
    and graph cut, plus the image evidence for the first stage that reads it.
    """
    paths = manifest.set_index("image_id")["image_path"]
    rows = []
    for image_id in tqdm(image_ids if stage_modes else [], desc="segment", unit="img"):
        evidence = ImageEvidence(read_rgb(paths[image_id]), seed_params)
        maps = load_maps(image_id)
        for stage, mode in stage_modes.items():
            start = time.perf_counter()
            seed = evidence_seed(mode, maps, evidence)
            result = graph_cut_refine(evidence.image, seed.initial, params, seed.certain_fg,
                                      seed.certain_bg)
            write_mask(result.mask, Path(out_dirs[stage]) / f"{image_id}.png")
            rows.append((image_id, stage, seed.status, result.status, result.iterations,
                         result.changed_ratio, round(time.perf_counter() - start, 4)))
    table = pd.DataFrame(rows, columns=list(STATUS_COLUMNS))
    log.info("segmented %d images; status counts\n%s", len(image_ids),
             table.groupby(["stage", "status"]).size().to_string())
    return table


def otsu_masks(manifest: pd.DataFrame, image_ids: list[str], out_dir: str | os.PathLike,
               seed_params: SeedParams) -> None:
    """Write the Otsu lesion (``xaicut.seeds.ImageEvidence.lesion``: ``seed_params``'
    ``vignette`` and ``min_area_fraction``) of every image of ``image_ids`` to
    ``out_dir/{image_id}.png`` (0/255).

    ``manifest``: rows with ``image_id`` and ``image_path``.
    """
    paths = manifest.set_index("image_id")["image_path"]
    for image_id in tqdm(image_ids, desc="otsu", unit="img"):
        lesion = ImageEvidence(read_rgb(paths[image_id]), seed_params).lesion
        write_mask(lesion, Path(out_dir) / f"{image_id}.png")
