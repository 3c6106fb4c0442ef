"""Stages ``segment`` and ``otsu``: seeds from attribution maps and image evidence, then GMM +
graph cut; the Otsu lesion of the image alone.

Input: the manifest (image paths) and one shard of attribution maps (``docs/data-contracts.md`` §4).
Output (§6): per image one graph-cut mask per seed mode (``xaicut.seeds``; the first mode is stage
``graphcut``, the others ``graphcut_{mode}``) and a status table; ``otsu_masks``: the ``otsu``
baseline mask (image evidence only, no classifier: once per run).
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
from xaicut.seeds import SeedParams, build_seed, otsu_seed, vignette_mask
from xaicut.shards import segment_stage_names

log = logging.getLogger(__name__)

STATUS_COLUMNS = ("image_id", "stage", "seed_status", "status", "iterations", "changed_ratio",
                  "seconds")


def segment_shard(manifest: pd.DataFrame, maps_dir: str | os.PathLike, methods: list[str],
                  modes: list[str], out_dirs: dict[str, str | os.PathLike],
                  seed_params: SeedParams, params: GraphCutParams) -> pd.DataFrame:
    """Segment every image whose maps are in ``maps_dir`` (:func:`segment_images`, stage names
    ``xaicut.shards.segment_stage_names``); return the status table."""
    def load_maps(image_id: str) -> dict[str, np.ndarray]:
        return {m: read_attribution(attribution_path(maps_dir, image_id, m)).values
                for m in methods}

    return segment_images(manifest, stored_images(maps_dir, methods), load_maps, modes,
                          out_dirs, seed_params, params, segment_stage_names(modes))


def segment_images(manifest: pd.DataFrame, image_ids: list[str],
                   load_maps: Callable[[str], dict[str, np.ndarray]], modes: list[str],
                   out_dirs: dict[str, str | os.PathLike], seed_params: SeedParams,
                   params: GraphCutParams, stage_names: list[str]) -> pd.DataFrame:
    """Write one graph-cut mask per seed mode of every image; return the status table
    (``STATUS_COLUMNS``).

    ``manifest``: rows with ``image_id`` and ``image_path``; ``load_maps``: image id → its
    attribution maps (an empty dict serves mode ``otsu``); ``stage_names``: the stage of each
    mode; ``out_dirs``: each stage name → mask folder (``{image_id}.png``, 0/255).
    """
    paths = manifest.set_index("image_id")["image_path"]
    stages = dict(zip(modes, stage_names))
    rows = []
    for image_id in tqdm(image_ids, desc="segment", unit="img"):
        image = read_rgb(paths[image_id])
        maps = load_maps(image_id)
        for mode, stage in stages.items():
            start = time.perf_counter()
            seed = build_seed(mode, maps, image, seed_params)
            result = graph_cut_refine(image, seed.initial, params, seed.certain_fg, seed.certain_bg)
            write_mask(result.mask, Path(out_dirs[stage]) / f"{image_id}.png")
            rows.append((image_id, stage, seed.status, result.status, result.iterations,
                         result.changed_ratio, round(time.perf_counter() - start, 4)))
    table = pd.DataFrame(rows, columns=list(STATUS_COLUMNS))
    log.info("segmented %d images; status counts\n%s", len(image_ids),
             table.groupby(["stage", "status"]).size().to_string())
    return table


def otsu_masks(manifest: pd.DataFrame, image_ids: list[str], out_dir: str | os.PathLike,
               seed_params: SeedParams) -> None:
    """Write the Otsu lesion (``xaicut.seeds.otsu_seed``; ``seed_params``' ``vignette`` and
    ``min_area_fraction``) of every image of ``image_ids`` to ``out_dir/{image_id}.png`` (0/255).

    ``manifest``: rows with ``image_id`` and ``image_path``.
    """
    paths = manifest.set_index("image_id")["image_path"]
    for image_id in tqdm(image_ids, desc="otsu", unit="img"):
        image = read_rgb(paths[image_id])
        vignette = vignette_mask(image) if seed_params.vignette else None
        write_mask(otsu_seed(image, vignette, min_area_fraction=seed_params.min_area_fraction),
                   Path(out_dir) / f"{image_id}.png")
