"""Print a finished run's segmentation summary and classifier accuracy: ``python -m xaicut.summary RESULTS``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def format_summary(results_dir: Path) -> str:
    """Return the summary table, the test accuracy and the report path of ``results_dir`` as text."""
    summary = pd.read_csv(results_dir / "metrics" / "summary.csv")
    report = pd.read_csv(results_dir / "train" / "classification_report.csv").set_index("class")
    return "\n".join([
        summary.to_string(index=False, float_format="%.3f"),
        f"classifier test accuracy: {report.loc['accuracy', 'f1_score']:.3f}",
        f"report: {(results_dir / 'report' / 'report.html').resolve()}",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results_dir", type=Path)
    print(format_summary(parser.parse_args().results_dir))


if __name__ == "__main__":
    main()
