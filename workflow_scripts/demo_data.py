"""Rule demo_data: write the seeded synthetic HAM10000-layout dataset."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

from xaicut.demo_data import write_demo_dataset
from xaicut.io import atomic_directories
from xaicut.logs import setup_logging

setup_logging(snakemake.log[0])
demo = snakemake.params.demo
with atomic_directories(snakemake.output) as (folder,):
    write_demo_dataset(folder, n_lesions=demo["n_lesions"], seed=snakemake.params.seed,
                       width=demo["width"], height=demo["height"])
