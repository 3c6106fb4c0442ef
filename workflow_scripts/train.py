"""Rule train: join the trained members into the variant's classifier and report it on the test split."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

import torch

from xaicut.train import ensemble_and_report
from xaicut.logs import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
ensemble_and_report(snakemake.input.dataset, snakemake.input.models, snakemake.input.histories,
                    snakemake.output, snakemake.params.train, device=snakemake.params.device)
