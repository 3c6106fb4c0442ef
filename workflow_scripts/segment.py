"""Rule segment: GMM + graph-cut segmentation of one shard from its fused seeds."""

import pandas as pd

from xaicut.graphcut import GraphCutParams
from xaicut.io import write_csv
from xaicut.logs import setup_logging
from xaicut.segment import segment_shard

setup_logging(snakemake.log[0])
params = GraphCutParams(**snakemake.params.segment, seed=snakemake.params.seed)
table = segment_shard(pd.read_csv(snakemake.input.manifest), snakemake.input.seeds,
                      snakemake.output.masks, params)
write_csv(table, snakemake.output.table)
