"""The report page: every section, over all classifier variants and per variant, in one
self-contained HTML file (docs/data-contracts.md §8)."""

from __future__ import annotations

import os

from xaicut.io import atomic_path
from xaicut.report.cost_section import costs_section
from xaicut.report.loading import ReportSettings, load_run_tables, load_variant_tables
from xaicut.report.markup import page
from xaicut.report.run_sections import (
    ablation_section,
    cross_dataset_section,
    header_section,
    published_section,
    segmentations_section,
    unet_vs_xai_section,
)
from xaicut.report.tables import stage_order
from xaicut.report.variant_sections import (
    attribution_section,
    classifier_section,
    examples_section,
    failures_section,
    per_class_section,
    summary_section,
)

TITLE = "xaicut report"


def build_report(settings: ReportSettings, out_html: str | os.PathLike) -> None:
    """Write the report of ``settings``' run to ``out_html``: the sections over every variant,
    then the model sections of each classifier variant. Inputs are read through
    ``settings.layout`` (``xaicut.report.inputs``); a missing one raises, naming the file."""
    run = load_run_tables(settings)
    sections = [
        header_section(TITLE, run, settings),
        segmentations_section(run, settings),
        unet_vs_xai_section(run),
        ablation_section(run),
        published_section(run, settings),
        cross_dataset_section(run, settings),
        costs_section(run.costs, str(run.inputs.costs)),
    ]
    for variant in settings.variants:
        tables = load_variant_tables(run, variant)
        stages = stage_order(tables.per_image, tables.summary)
        sections += [
            summary_section(tables, stages),
            per_class_section(tables, stages),
            attribution_section(tables),
            classifier_section(tables),
            examples_section(run, tables, stages, settings),
            failures_section(run, tables, stages, settings),
        ]
    with atomic_path(out_html) as tmp:
        tmp.write_text(page(TITLE, sections), encoding="utf-8")
