"""Rules student and otsu_student: a student's thresholded masks and the graph cut its
probability seeds, for one shard."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import pandas as pd
import torch

from xaicut.graphcut import GraphCutParams
from xaicut.io import atomic_directories, write_csv
from xaicut.logs import setup_logging
from xaicut.seeds import SeedParams
from xaicut.student import segment_student_shard

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
seeding = {k: v for k, v in snakemake.params.seeding.items() if k != "modes"}
with atomic_directories(snakemake.output.masks) as folders:
    table = segment_student_shard(
        pd.read_csv(snakemake.input.manifest), snakemake.input.model, snakemake.wildcards.shard,
        snakemake.params.shard_size, dict(zip(snakemake.params.stages, folders)),
        snakemake.params.batch_size, snakemake.params.device, SeedParams(**seeding),
        GraphCutParams(**snakemake.params.segment, seed=snakemake.params.seed),
        snakemake.params.flip_average)
write_csv(table, snakemake.output.table)
