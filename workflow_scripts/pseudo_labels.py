"""Rule pseudo_labels: a teacher's graph-cut masks of the train and validation images as the
student's pseudo-labels, the most confident kept (no ground-truth mask read)."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import pandas as pd

from xaicut.io import write_csv
from xaicut.logs import setup_logging
from xaicut.student import build_pseudo_labels

setup_logging(snakemake.log[0])
cfg = snakemake.params.student
table = build_pseudo_labels(pd.read_csv(snakemake.input.manifest), snakemake.input.teacher,
                            snakemake.input.evidence, snakemake.output.folder, cfg["ignore"],
                            cfg["boundary_width"], cfg["keep_fraction"])
write_csv(table, snakemake.output.table)
