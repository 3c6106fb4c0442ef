"""Rule evaluate: the overlap metrics of xaicut.metrics per image, stage and class, and the
comparison tables of xaicut.comparison."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import pandas as pd

from xaicut.comparison import stage_ablation, unet_vs_xai
from xaicut.io import write_csv
from xaicut.logs import setup_logging
from xaicut.metrics import evaluate_results

setup_logging(snakemake.log[0])
folders = [(variant, stage, folder) for (variant, stage), folder
           in zip(snakemake.params.scored, snakemake.input.masks, strict=True)]
tables = evaluate_results(pd.read_csv(snakemake.input.manifest), folders)
tables |= {"stage_ablation": stage_ablation(tables["summary"]),
           "unet_vs_xai": unet_vs_xai(tables["per_image"])}
for name, table in tables.items():
    write_csv(table, snakemake.output[name])
