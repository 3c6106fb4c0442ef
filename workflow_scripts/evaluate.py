"""Rule evaluate: the overlap metrics of xaicut.metrics per image, stage and class."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

import pandas as pd

from xaicut.metrics import evaluate_results
from xaicut.io import write_csv
from xaicut.logs import setup_logging

setup_logging(snakemake.log[0])
tables = evaluate_results(pd.read_csv(snakemake.input.manifest), snakemake.input.masks)
for name, table in tables.items():
    write_csv(table, snakemake.output[name])
