"""Rule train: join the trained members into the variant's classifier and report it on the test
split."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import torch

from xaicut.classifier_training import ensemble_and_report
from xaicut.logs import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
out = snakemake.output
ensemble_and_report(snakemake.input.dataset, snakemake.input.models, snakemake.input.histories,
                    model_path=out.model, history_path=out.history,
                    predictions_path=out.predictions, classification_path=out.classification,
                    cfg=snakemake.params.train, device=snakemake.params.device)
