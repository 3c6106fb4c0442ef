"""Rules segment and segment_scored: GMM + graph cut per stage (its seed mode) for one shard of
one classifier variant."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import pandas as pd

from xaicut.graphcut import GraphCutParams
from xaicut.io import write_csv
from xaicut.logs import setup_logging
from xaicut.seeds import SeedParams
from xaicut.segment import segment_shard

setup_logging(snakemake.log[0])
stage_modes = dict(snakemake.params.stage_modes)
table = segment_shard(pd.read_csv(snakemake.input.manifest), snakemake.input.maps,
                      snakemake.params.methods, stage_modes,
                      out_dirs=dict(zip(stage_modes, snakemake.output.masks, strict=True)),
                      seed_params=SeedParams(**snakemake.params.seeding),
                      params=GraphCutParams(**snakemake.params.segment, seed=snakemake.params.seed))
write_csv(table, snakemake.output.table)
