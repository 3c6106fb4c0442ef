"""Rule train_unet: fit the supervised U-Net baseline on the ground-truth masks of the train
split."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import torch

from xaicut.logs import setup_logging
from xaicut.unet import train_unet

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
train_unet(snakemake.input.manifest, snakemake.output.model, snakemake.output.history,
           snakemake.params.unet, device=snakemake.params.device, seed=snakemake.params.seed,
           resume_path=snakemake.params.resume)
