"""Rule attribute: attribution maps and deletion scores for one shard of images."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import pandas as pd
import torch

from xaicut.attribution import attribute_shard
from xaicut.io import write_csv
from xaicut.logs import setup_logging
from xaicut.shards import shard_rows

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.attribute
manifest = pd.read_csv(snakemake.input.manifest)   # the training data: SHAP background
images = pd.read_csv(snakemake.input.images)       # the shard's dataset (main or external)
rows = shard_rows(images, snakemake.wildcards.shard, cfg["shard_size"])
deletion = attribute_shard(rows, manifest, snakemake.input.model, snakemake.output.maps, cfg,
                           device=snakemake.params.device, seed=snakemake.params.seed)
write_csv(deletion, snakemake.output.deletion)
