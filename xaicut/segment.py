"""Stage ``segment``: seeds from attribution maps and image evidence, then GMM + graph cut.

Input: the manifest (image paths) and one shard of attribution maps (``docs/data-contracts.md`` §4).
Output (§6): per image the ``otsu`` baseline mask (image evidence only), one graph-cut mask per seed
mode (``xaicut.seeds``; the first mode is stage ``graphcut``, the others ``graphcut_{mode}``), and a
status table.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

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
    """Segment every image whose maps are in ``maps_dir``; return the status table.

    ``out_dirs`` maps ``otsu`` and each graph-cut stage name to its mask folder.
    """
    paths = manifest.set_index("image_id")["image_path"]
    images = stored_images(maps_dir, methods)
    stages = dict(zip(modes, segment_stage_names(modes)))
    rows = []
    for image_id in tqdm(images, desc="segment", unit="img"):
        image = read_rgb(paths[image_id])
        maps = {m: read_attribution(attribution_path(maps_dir, image_id, m)).values for m in methods}
        vignette = vignette_mask(image) if seed_params.vignette else None
        write_mask(otsu_seed(image, vignette, min_area_fraction=seed_params.min_area_fraction),
                   Path(out_dirs["otsu"]) / f"{image_id}.png")
        for mode, stage in stages.items():
            start = time.perf_counter()
            seed = build_seed(mode, maps, image, seed_params)
            result = graph_cut_refine(image, seed.initial, params, seed.certain_fg, seed.certain_bg)
            write_mask(result.mask, Path(out_dirs[stage]) / f"{image_id}.png")
            rows.append((image_id, stage, seed.status, result.status, result.iterations,
                         result.changed_ratio, round(time.perf_counter() - start, 4)))
    table = pd.DataFrame(rows, columns=list(STATUS_COLUMNS))
    log.info("segmented %d images; status counts\n%s", len(images),
             table.groupby(["stage", "status"]).size().to_string())
    return table
