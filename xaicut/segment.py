"""Stage ``segment``: run the GMM + graph cut (``xaicut.graphcut``) on every image of a shard.

Input: the manifest (image paths) and the fused seed masks (``docs/data-contracts.md`` §5).
Output: graph-cut masks and a per-image status table (§6).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from xaicut.graphcut import GraphCutParams, graph_cut_refine
from xaicut.io import read_mask, read_rgb, write_mask

log = logging.getLogger(__name__)

STATUS_COLUMNS = ("image_id", "status", "iterations", "changed_ratio", "seconds")


def segment_shard(manifest: pd.DataFrame, seeds_dir: str | os.PathLike,
                  out_dir: str | os.PathLike, params: GraphCutParams) -> pd.DataFrame:
    """Segment each image with a seed mask in ``seeds_dir``; return the status table."""
    paths = manifest.set_index("image_id")["image_path"]
    rows = []
    for seed_path in tqdm(sorted(Path(seeds_dir).glob("*.png")), desc="segment", unit="img"):
        image_id = seed_path.stem
        start = time.perf_counter()
        result = graph_cut_refine(read_rgb(paths[image_id]), read_mask(seed_path), params)
        write_mask(result.mask, Path(out_dir) / f"{image_id}.png")
        rows.append((image_id, result.status, result.iterations, result.changed_ratio,
                     round(time.perf_counter() - start, 4)))
    table = pd.DataFrame(rows, columns=list(STATUS_COLUMNS))
    log.info("segmented %d images; status counts %s", len(table), table.status.value_counts().to_dict())
    return table
