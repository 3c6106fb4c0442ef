"""Rule costs: the run's benchmark files gathered into costs.csv (xaicut.costs)."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import pandas as pd

from xaicut.costs import cost_table, read_benchmarks
from xaicut.io import write_csv
from xaicut.logs import setup_logging

setup_logging(snakemake.log[0])
manifests = {dataset: pd.read_csv(path, dtype={"image_id": str})
             for dataset, path in snakemake.params.manifests.items()}
benchmarks = read_benchmarks(snakemake.params.folders)
write_csv(cost_table(benchmarks, manifests, snakemake.params.shard_size), snakemake.output[0])
