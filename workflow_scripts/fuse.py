"""Rule fuse: per-method binary masks and the fused seed mask for one shard."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import json

from xaicut.fuse import fuse_shard
from xaicut.io import atomic_directories
from xaicut.logs import setup_logging

setup_logging(snakemake.log[0])
auto = json.loads(open(snakemake.input.auto[0]).read()) if snakemake.input.auto else None
with atomic_directories(snakemake.output) as out_dirs:
    fuse_shard(snakemake.input.maps, snakemake.params.fuse,
               out_dirs=dict(zip(snakemake.params.stages, out_dirs)), auto=auto)
