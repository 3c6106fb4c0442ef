"""Print a finished run's exported segmentations, scores and classifier (balanced) accuracy:
``python -m xaicut.summary RESULTS [--run NAME]``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

N_LEAST_CONFIDENT = 5


def format_summary(results_dir: Path, run: str = "default") -> str:
    """Return, as text, the run's exported segmentations (count, folder, the least confident),
    the summary table of the images with a ground-truth mask (when any), the test (balanced)
    accuracy of each classifier variant, and the report path."""
    run_dir = results_dir / "runs" / run
    exported = pd.read_csv(run_dir / "segmentations.csv")
    lines = [f"{len(exported)} segmentations in {(run_dir / 'segmentations').resolve()}/ "
             f"(table: {(run_dir / 'segmentations.csv').resolve()}); least confident:",
             exported.nsmallest(N_LEAST_CONFIDENT, "confidence")[
                 ["image_id", "dx", "split", "status", "area_fraction", "confidence"]
             ].to_string(index=False, float_format="%.3f")]
    summary_path = run_dir / "metrics" / "summary.csv"
    if summary_path.is_file():
        summary = pd.read_csv(summary_path)
        lines.append(summary.to_string(index=False, float_format="%.3f"))
    else:
        lines.append("no test image has a ground-truth mask: nothing scored")
    variants = [p.name for p in sorted((results_dir / "train").iterdir())
                if (p / "classification_report.csv").is_file()]
    lines += [
        "classifier {} test accuracy: {:.3f}, balanced accuracy: {:.3f}".format(
            variant, *classifier_accuracy(results_dir, variant))
        for variant in variants
    ]
    return "\n".join([*lines, f"report: {(run_dir / 'report' / 'report.html').resolve()}"])


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
