"""Rule train: fit the classifier, save the best checkpoint, history and test report."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

import torch

from xaicut.train import train_and_report
from xaicut.logs import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
train_and_report(snakemake.input.dataset, snakemake.output, snakemake.params.train,
                 device=snakemake.params.device, seed=snakemake.params.seed,
                 resume_path=snakemake.params.resume)
