"""Rule train_member: fit one classifier of the variant's ensemble, save its checkpoint and
history."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import torch

from xaicut.classifier_training import train_member
from xaicut.logs import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
train_member(snakemake.input.dataset, snakemake.output.model, snakemake.output.history,
             snakemake.params.train, device=snakemake.params.device, seed=snakemake.params.seed,
             resume_path=snakemake.params.resume)
