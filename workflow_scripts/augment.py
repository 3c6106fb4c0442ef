"""Rule augment: class-balanced augmentation of train/val into dataset B."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import pandas as pd

from xaicut.augment import build_dataset_b
from xaicut.io import write_csv
from xaicut.logs import setup_logging

setup_logging(snakemake.log[0])
cfg = snakemake.params.augment
dataset = build_dataset_b(pd.read_csv(snakemake.input.manifest), snakemake.output.images,
                          enabled=cfg["enabled"], target_fraction=cfg["target_fraction"],
                          max_copies=cfg["max_copies_per_image"], seed=snakemake.params.seed)
write_csv(dataset, snakemake.output.dataset)
