"""Rule report: the self-contained HTML report."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

from pathlib import Path

from xaicut.logs import setup_logging
from xaicut.report import build_report

setup_logging(snakemake.log[0])
build_report(Path(snakemake.input.manifest).parents[1], snakemake.output[0],
             n_examples=snakemake.params.report["n_examples"], config=snakemake.params.config,
             run_dir=Path(snakemake.output[0]).parents[1], external=snakemake.params.external,
             variants=snakemake.params.variants)
