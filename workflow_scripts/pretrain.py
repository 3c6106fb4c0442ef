"""Rule pretrain: self-supervised SimCLR pretraining of one ResNet body on the dataset's images."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import torch

from xaicut.logs import setup_logging
from xaicut.pretrain import pretrain_encoder

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
pretrain_encoder(snakemake.input.manifest, snakemake.output.weights, snakemake.output.history,
                 snakemake.params.pretrain, arch=snakemake.wildcards.arch,
                 device=snakemake.params.device, seed=snakemake.params.seed,
                 resume_path=snakemake.params.resume)
