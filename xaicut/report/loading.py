"""Reading the report's inputs (``xaicut.report.inputs``) into tables.

A listed file that is missing stops the report with its path: the workflow should have written
it. What the configuration or the data leave out is ``None`` (or an empty mapping) here, and a
note in the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from xaicut.comparison import VARIANT, pipeline_sorted
from xaicut.layout import Layout
from xaicut.report.inputs import (
    AUTO_THRESHOLDS,
    FAITHFULNESS,
    MaskCoverage,
    ReportInputs,
    report_inputs,
)
from xaicut.settings import external_datasets, variant_names
from xaicut.shards import stage_variant


@dataclass(frozen=True)
class ReportSettings:
    """What the report is built for: the layout of the run, the classifier ``variants``, the
    attribution ``methods`` (each drawn as a map), the external ``datasets``, the shard size
    (to find an image's masks), the number of example images and the run's configuration."""

    layout: Layout
    variants: list[str]
    methods: list[str]
    datasets: list[str]
    shard_size: int
    n_examples: int
    config: dict[str, Any]

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ReportSettings:
        """The settings of a validated config (the workflow's)."""
        return cls(layout=Layout.from_config(config), variants=variant_names(config),
                   methods=list(config["attribute"]["methods"]),
                   datasets=list(external_datasets(config)),
                   shard_size=config["attribute"]["shard_size"],
                   n_examples=config["report"]["n_examples"], config=config)


@dataclass(frozen=True)
class RunTables:
    """The tables over every variant, read from ``inputs``: data, exported masks, and the
    scores the masks allow (``metrics``: name → table of ``METRICS_TABLES``, empty without test
    masks; ``external_metrics``: per external dataset with masks, its stage ablation;
    ``costs``: the run's ``costs.csv``)."""

    inputs: ReportInputs
    manifest: pd.DataFrame
    rejected: pd.DataFrame
    segmentations: pd.DataFrame
    segmentation_scores: pd.DataFrame | None
    metrics: dict[str, pd.DataFrame]
    external_metrics: dict[str, pd.DataFrame]
    costs: pd.DataFrame


@dataclass(frozen=True)
class VariantTables:
    """The tables of one classifier variant: its rows of the metrics tables with the Otsu
    baseline's (``of_variant``; ``None`` without test masks), its classifier and faithfulness
    tables, and its threshold study (``study``: name → table, ``auto_thresholds``: method →
    threshold; ``None`` without the study)."""

    variant: str
    per_image: pd.DataFrame | None
    summary: pd.DataFrame | None
    per_class: pd.DataFrame | None
    history: pd.DataFrame
    class_report: pd.DataFrame
    predictions: pd.DataFrame
    deletion: pd.DataFrame
    study: dict[str, pd.DataFrame] | None
    auto_thresholds: dict[str, float] | None


def _existing(path: Path) -> Path:
    """``path``, or ``FileNotFoundError`` naming it: the workflow writes every report input."""
    if not path.is_file():
        raise FileNotFoundError(f"report input not found: {path} (the workflow writes it)")
    return path


def read_table(path: Path) -> pd.DataFrame:
    """A CSV the workflow wrote (image ids as text); raises ``FileNotFoundError`` naming it."""
    return pd.read_csv(_existing(path), dtype={"image_id": str})


def load_run_tables(settings: ReportSettings) -> RunTables:
    """Read the data tables, decide from the manifests which scores exist, and read them."""
    layout = settings.layout
    manifest = read_table(layout.manifest())
    external = {d: read_table(layout.manifest(d)) for d in settings.datasets}
    coverage = MaskCoverage.of(manifest, external)
    inputs = report_inputs(layout, settings.variants, settings.datasets, coverage)
    return RunTables(
        inputs=inputs, manifest=manifest,
        rejected=read_table(inputs.rejected), segmentations=read_table(inputs.segmentations),
        segmentation_scores=(read_table(inputs.segmentation_scores)
                             if inputs.segmentation_scores else None),
        metrics={name: read_table(path) for name, path in inputs.metrics.items()},
        external_metrics={d: read_table(p) for d, p in inputs.external_metrics.items()},
        costs=read_table(inputs.costs).fillna({"job": ""}),
    )


def of_variant(table: pd.DataFrame | None, variant: str) -> pd.DataFrame | None:
    """The rows of one classifier variant of a metrics table and those of the Otsu baseline it
    is compared with (scored once, variant ``image_prior``: ``stage_variant``), without the
    variant column, stages in pipeline order."""
    if table is None:
        return None
    folders = table["stage"].astype(str).map(lambda stage: stage_variant(variant, stage))
    rows = table[table[VARIANT] == folders].drop(columns=VARIANT)
    return pipeline_sorted(rows).reset_index(drop=True)


def load_variant_tables(run: RunTables, variant: str) -> VariantTables:
    """Read one classifier variant's tables (``RunTables.inputs``)."""
    classifier = run.inputs.classifier[variant]
    study = run.inputs.study.get(variant)
    metrics = run.metrics
    return VariantTables(
        variant=variant,
        per_image=of_variant(metrics.get("per_image"), variant),
        summary=of_variant(metrics.get("summary"), variant),
        per_class=of_variant(metrics.get("summary_per_class"), variant),
        history=read_table(classifier["history"]),
        class_report=read_table(classifier["classification_report"]),
        predictions=read_table(classifier["test_predictions"]),
        deletion=read_table(classifier[FAITHFULNESS]),
        study=None if study is None else {name: read_table(path) for name, path in study.items()
                                          if name != AUTO_THRESHOLDS},
        auto_thresholds=None if study is None else _read_json(study[AUTO_THRESHOLDS]),
    )


def _read_json(path: Path) -> dict[str, float]:
    return json.loads(_existing(path).read_text())
