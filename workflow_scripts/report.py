"""Rule report: the self-contained HTML report."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

from xaicut.logs import setup_logging
from xaicut.report.document import build_report
from xaicut.report.loading import ReportSettings

setup_logging(snakemake.log[0])
build_report(ReportSettings.from_config(snakemake.params.config), snakemake.output[0])
