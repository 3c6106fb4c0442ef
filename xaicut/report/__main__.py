"""CLI: ``python -m xaicut.report OUT_HTML [--configfile FILE ...] [--config KEY=VALUE ...]``:
write the report of the run that ``snakemake`` with the same options made (the report rule's
page, without Snakemake)."""

from __future__ import annotations

import argparse
from pathlib import Path

from xaicut.config import add_workflow_config_arguments, workflow_config
from xaicut.report.document import build_report
from xaicut.report.loading import ReportSettings


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and write the report."""
    parser = argparse.ArgumentParser(description="Write the HTML report of an xaicut run.")
    parser.add_argument("out_html", type=Path, help="the HTML file to write")
    add_workflow_config_arguments(parser)
    args = parser.parse_args(argv)
    build_report(ReportSettings.from_config(workflow_config(args)), args.out_html)


if __name__ == "__main__":
    main()
