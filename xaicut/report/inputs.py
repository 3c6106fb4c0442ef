"""Which files the report reads: the report rule's inputs, and what the report reads, from one
function (``report_inputs``).

A file listed here is required: the workflow writes it, and the report stops, naming the file,
when it is missing. What the configuration or the data leave out is not listed (empty field):
the scores need ground-truth masks (``MaskCoverage``), and the report says so in a note.
Pure path logic, no heavy import: the Snakefile imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from xaicut.layout import CLASSIFIER_TABLES, METRICS_TABLES, STUDY_TABLES, Layout
from xaicut.shards import SCORED_SPLIT, STUDY_SPLITS, has_masks_in

FAITHFULNESS = "faithfulness"
"""Key of a variant's deletion-faithfulness summary among its classifier tables."""
AUTO_THRESHOLDS = "auto_thresholds"
"""Key of a variant's auto thresholds (JSON) among its study tables."""
COSTS_INPUT = "costs"
"""Name of the report rule's input list holding the run's ``costs.csv`` (contracts §10)."""
SCORED_EXTERNAL_TABLE = "stage_ablation"
"""The metrics table of an external dataset that the cross-dataset section shows."""


@dataclass(frozen=True)
class MaskCoverage:
    """Which scores the ground-truth masks allow (contracts §1): ``test`` the metrics of the
    test split (``evaluate``), ``study`` the threshold study (validation or test masks),
    ``any`` the exported masks' scores; ``external`` the external datasets with masks."""

    test: bool
    study: bool
    any: bool
    external: tuple[str, ...]

    @classmethod
    def of(cls, manifest: pd.DataFrame, external: dict[str, pd.DataFrame]) -> MaskCoverage:
        """The coverage of the main manifest and the external datasets' (name → manifest)."""
        return cls(test=has_masks_in(manifest, SCORED_SPLIT),
                   study=has_masks_in(manifest, *STUDY_SPLITS), any=has_masks_in(manifest),
                   external=tuple(name for name, table in external.items() if has_masks_in(table)))


@dataclass(frozen=True)
class ReportInputs:
    """The files the report reads. Always: the data tables, the exported table, per classifier
    variant its ``CLASSIFIER_TABLES`` and ``FAITHFULNESS`` summary, the external manifests, the
    run's per-rule ``costs``.
    Only where ``MaskCoverage`` allows (else empty): ``metrics`` (``METRICS_TABLES``),
    per variant the ``STUDY_TABLES`` and ``AUTO_THRESHOLDS``, the exported masks' scores and,
    per external dataset with masks, its ``SCORED_EXTERNAL_TABLE``."""

    manifest: Path
    rejected: Path
    segmentations: Path
    classifier: dict[str, dict[str, Path]]
    external_manifests: dict[str, Path]
    costs: Path
    metrics: dict[str, Path] = field(default_factory=dict)
    study: dict[str, dict[str, Path]] = field(default_factory=dict)
    segmentation_scores: Path | None = None
    external_metrics: dict[str, Path] = field(default_factory=dict)

    def files(self) -> dict[str, list[str]]:
        """The files read whatever the masks: named input lists of the report rule."""
        return {
            "data": [str(self.manifest), str(self.rejected), str(self.segmentations)],
            "classifier": _flat(self.classifier),
            "external_manifests": [str(p) for p in self.external_manifests.values()],
            COSTS_INPUT: [str(self.costs)],
        }

    def scored_files(self) -> dict[str, list[str]]:
        """The files of the scores the masks allow: named input lists of the report rule."""
        scores = [self.segmentation_scores] if self.segmentation_scores else []
        return {
            "metrics": [str(p) for p in [*self.metrics.values(), *scores]],
            "study": _flat(self.study),
            "external_metrics": [str(p) for p in self.external_metrics.values()],
        }


def _flat(per_variant: dict[str, dict[str, Path]]) -> list[str]:
    return [str(p) for tables in per_variant.values() for p in tables.values()]


def report_inputs(layout: Layout, variants: list[str], datasets: list[str],
                  coverage: MaskCoverage | None = None) -> ReportInputs:
    """What the report of ``layout``'s run reads for classifier ``variants`` and external
    ``datasets``; ``coverage`` None: only what it reads whatever the masks (``files``)."""
    classifier = {v: {**{t: layout.classifier_table(v, t) for t in CLASSIFIER_TABLES},
                      FAITHFULNESS: layout.faithfulness_summary(v)} for v in variants}
    always = ReportInputs(
        manifest=layout.manifest(), rejected=layout.rejected(),
        segmentations=layout.segmentations_table(), classifier=classifier,
        external_manifests={d: layout.manifest(d) for d in datasets}, costs=layout.costs)
    if coverage is None:
        return always
    return replace(
        always,
        metrics={t: layout.metrics_table(t) for t in METRICS_TABLES} if coverage.test else {},
        study={v: {**{t: layout.study_table(v, t) for t in STUDY_TABLES},
                   AUTO_THRESHOLDS: layout.auto_thresholds(v)}
               for v in variants} if coverage.study else {},
        segmentation_scores=layout.segmentation_scores if coverage.any else None,
        external_metrics={d: layout.metrics_table(SCORED_EXTERNAL_TABLE, d)
                          for d in datasets if d in coverage.external},
    )
