"""Print a finished run's segmentation summary and classifier (balanced) accuracy:
``python -m xaicut.summary RESULTS [--run NAME]``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from xaicut.metrics import UNET_STAGE


def format_summary(results_dir: Path, run: str = "default") -> str:
    """Return the summary table of run ``run``, the test (balanced) accuracy of each classifier
    variant and the report path as text."""
    run_dir = results_dir / "runs" / run
    summary = pd.read_csv(run_dir / "metrics" / "summary.csv")
    classifiers = summary.loc[summary["stage"] != UNET_STAGE, "variant"]
    accuracy = [
        "classifier {} test accuracy: {:.3f}, balanced accuracy: {:.3f}".format(
            variant, *classifier_accuracy(results_dir, variant))
        for variant in dict.fromkeys(classifiers)
    ]
    return "\n".join([
        summary.to_string(index=False, float_format="%.3f"),
        *accuracy,
        f"report: {(run_dir / 'report' / 'report.html').resolve()}",
    ])


def classifier_accuracy(results_dir: Path, variant: str) -> tuple[float, float]:
    """Test-split (accuracy, balanced accuracy = mean recall of the classes) of one classifier
    variant, from its classification report."""
    path = results_dir / "train" / variant / "classification_report.csv"
    report = pd.read_csv(path).set_index("class")
    return float(report.loc["accuracy", "f1_score"]), float(report.loc["macro avg", "recall"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results_dir", type=Path)
    parser.add_argument("--run", default="default", help="run name (config key run)")
    args = parser.parse_args()
    print(format_summary(args.results_dir, args.run))


if __name__ == "__main__":
    main()
