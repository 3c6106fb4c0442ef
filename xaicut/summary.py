"""Print a finished run's exported segmentations, scores and classifier (balanced) accuracy:
``python -m xaicut.summary [--configfile FILE ...] [--config KEY=VALUE ...]``, with the
options the run was made with (``snakemake`` without them: none)."""

from __future__ import annotations

import argparse

import pandas as pd

from xaicut.config import add_workflow_config_arguments, workflow_config
from xaicut.layout import Layout
from xaicut.settings import variant_names

N_LEAST_CONFIDENT = 5


def format_summary(layout: Layout, variants: list[str]) -> str:
    """Return, as text, the run's exported segmentations (count, folder, the least confident),
    the summary table of the images with a ground-truth mask (when any), the test (balanced)
    accuracy of each classifier variant, and the report path."""
    table = layout.segmentations_table()
    exported = pd.read_csv(table)
    lines = [f"{len(exported)} segmentations in {layout.segmentations().resolve()}/ "
             f"(table: {table.resolve()}); least confident:",
             exported.nsmallest(N_LEAST_CONFIDENT, "confidence")[
                 ["image_id", "dx", "split", "status", "area_fraction", "confidence"]
             ].to_string(index=False, float_format="%.3f")]
    summary_path = layout.metrics_table("summary")
    if summary_path.is_file():
        summary = pd.read_csv(summary_path)
        lines.append(summary.to_string(index=False, float_format="%.3f"))
    else:
        lines.append("no test image has a ground-truth mask: nothing scored")
    lines += [
        "classifier {} test accuracy: {:.3f}, balanced accuracy: {:.3f}".format(
            variant, *classifier_accuracy(layout, variant))
        for variant in variants
    ]
    return "\n".join([*lines, f"report: {layout.report.resolve()}"])


def classifier_accuracy(layout: Layout, variant: str) -> tuple[float, float]:
    """Test-split (accuracy, balanced accuracy = mean recall of the classes) of one classifier
    variant, from its classification report."""
    path = layout.classifier_table(variant, "classification_report")
    report = pd.read_csv(path).set_index("class")
    return float(report.loc["accuracy", "f1_score"]), float(report.loc["macro avg", "recall"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_workflow_config_arguments(parser)
    config = workflow_config(parser.parse_args())
    print(format_summary(Layout.from_config(config), variant_names(config)))


if __name__ == "__main__":
    main()
