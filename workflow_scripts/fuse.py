"""Rule fuse: per-method binary masks and the fused seed mask for one shard."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

import json

from xaicut.fuse import fuse_shard
from xaicut.logs import setup_logging

setup_logging(snakemake.log[0])
auto = json.loads(open(snakemake.input.auto[0]).read()) if snakemake.input.auto else None
fuse_shard(snakemake.input.maps, snakemake.params.fuse,
           out_dirs=dict(zip(snakemake.params.stages, snakemake.output)), auto=auto)
