"""Rule threshold_study: Jaccard against threshold per method (paper 001) and the auto
thresholds."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import json

import pandas as pd

from xaicut.io import atomic_path, write_csv
from xaicut.logs import setup_logging
from xaicut.threshold_study import (
    auto_thresholds,
    best_thresholds,
    mann_whitney,
    outcome_table,
    study_curves,
)

setup_logging(snakemake.log[0])
curves = study_curves(pd.read_csv(snakemake.input.manifest), snakemake.input.maps,
                      snakemake.params.methods)
best = best_thresholds(curves)
write_csv(curves, snakemake.output.curves)
write_csv(best, snakemake.output.best)
write_csv(outcome_table(curves), snakemake.output.outcome)
write_csv(mann_whitney(curves, best), snakemake.output.mann_whitney)
with atomic_path(snakemake.output.auto) as tmp:
    tmp.write_text(json.dumps(auto_thresholds(best), indent=2, sort_keys=True))
