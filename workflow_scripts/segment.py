"""Rule segment: GMM + graph cut per seed mode for one shard of one classifier variant."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import pandas as pd

from xaicut.graphcut import GraphCutParams
from xaicut.io import write_csv
from xaicut.logs import setup_logging
from xaicut.seeds import SeedParams
from xaicut.segment import segment_shard

setup_logging(snakemake.log[0])
seeding = dict(snakemake.params.seeding)
modes = seeding.pop("modes")
table = segment_shard(pd.read_csv(snakemake.input.manifest), snakemake.input.maps,
                      snakemake.params.methods, modes,
                      out_dirs=dict(zip(snakemake.params.stages, snakemake.output.masks)),
                      seed_params=SeedParams(**seeding),
                      params=GraphCutParams(**snakemake.params.segment, seed=snakemake.params.seed))
write_csv(table, snakemake.output.table)
