"""Sharding of the attributed splits and stage names: attribute, fuse and segment work on shards.

A shard is named after its split and index, ``val000``, ``test000``, …: the images of that split
sorted by image id, ``shard_size`` at a time. Kept free of heavy imports: the Snakefile uses it
to build the DAG.
"""

from __future__ import annotations

import re

import pandas as pd

ATTRIBUTED_SPLITS = ("val", "test")
"""Splits that get attribution maps: ``test`` is segmented and scored, ``val`` serves the
threshold study (``fuse.threshold_method: auto`` picks its thresholds there)."""

SHARD_PATTERN = r"(?:val|test)[0-9]+"
"""Regular expression of a shard name (the Snakefile's wildcard constraint)."""


def shard_names(n_images: int, shard_size: int, split: str = "test") -> list[str]:
    """Return the shard names ``{split}000``… covering ``n_images`` images of ``split``
    (at least one shard, possibly empty, so that every stage has a job)."""
    return [f"{split}{i:03d}" for i in range(max(1, -(-n_images // shard_size)))]


def split_shards(manifest: pd.DataFrame, shard_size: int, split: str) -> list[str]:
    """Shard names of ``split`` for a manifest (contracts §2)."""
    return shard_names(int((manifest.split == split).sum()), shard_size, split)


def shard_rows(manifest: pd.DataFrame, shard: str, shard_size: int) -> pd.DataFrame:
    """Return the manifest rows in ``shard`` (its split's images sorted by image id)."""
    if not re.fullmatch(SHARD_PATTERN, shard):
        raise ValueError(f"not a shard name: {shard!r} (expected e.g. test000 or val000)")
    split = shard.rstrip("0123456789")
    index = int(shard[len(split):])
    rows = manifest[manifest.split == split].sort_values("image_id")
    return rows.iloc[index * shard_size : (index + 1) * shard_size]


def segment_stage_names(modes: list[str]) -> list[str]:
    """Stage names of the graph-cut masks: ``graphcut`` for the first mode, then ``graphcut_{mode}``."""
    return ["graphcut"] + [f"graphcut_{mode}" for mode in modes[1:]]
