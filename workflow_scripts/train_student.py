"""Rule train_student: fit the student U-Net on one teacher's kept pseudo-labels."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import torch

from xaicut.logs import setup_logging
from xaicut.student import train_student

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
train_student(snakemake.input.table, snakemake.output.model, snakemake.output.history,
              snakemake.params.student, device=snakemake.params.device,
              seed=snakemake.params.seed, resume_path=snakemake.params.resume,
              encoder_weights=snakemake.input.get("encoder"))
