"""Sharding of the test split and stage names: jobs of attribute, fuse and segment work on shards.

Kept free of heavy imports: the Snakefile uses it to build the DAG.
"""

from __future__ import annotations

import pandas as pd


def shard_names(n_images: int, shard_size: int) -> list[str]:
    """Return the shard names ``shard000``… covering ``n_images`` test images (at least one)."""
    return [f"shard{i:03d}" for i in range(max(1, -(-n_images // shard_size)))]


def shard_rows(manifest: pd.DataFrame, shard: str, shard_size: int) -> pd.DataFrame:
    """Return the test rows of ``manifest`` in ``shard`` (test images sorted by image id)."""
    test = manifest[manifest.split == "test"].sort_values("image_id")
    start = int(shard.removeprefix("shard")) * shard_size
    return test.iloc[start : start + shard_size]


def segment_stage_names(modes: list[str]) -> list[str]:
    """Stage names of the graph-cut masks: ``graphcut`` for the first mode, then ``graphcut_{mode}``."""
    return ["graphcut"] + [f"graphcut_{mode}" for mode in modes[1:]]
