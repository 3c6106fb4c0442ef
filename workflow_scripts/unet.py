"""Rule unet: the U-Net's 0/255 masks of one test shard, at each image's size."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import pandas as pd
import torch

from xaicut.io import atomic_directories
from xaicut.logs import setup_logging
from xaicut.unet import segment_unet_shard

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
with atomic_directories([snakemake.output.masks]) as (masks,):
    segment_unet_shard(pd.read_csv(snakemake.input.manifest), snakemake.input.model,
                       snakemake.wildcards.shard, snakemake.params.shard_size, masks,
                       batch_size=snakemake.params.batch_size, device=snakemake.params.device)
