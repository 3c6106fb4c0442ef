"""Rule faithfulness: all shards' deletion scores in one table, and their summary."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import pandas as pd

from xaicut.faithfulness import summarise_deletion
from xaicut.io import write_csv
from xaicut.logs import setup_logging

setup_logging(snakemake.log[0])
deletion = pd.concat(pd.read_csv(path) for path in snakemake.input)
write_csv(deletion, snakemake.output.deletion)
write_csv(summarise_deletion(deletion), snakemake.output.summary)
