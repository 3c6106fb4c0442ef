"""Reading a validated configuration: which classifier variants, mask stages and external
datasets a run has, and which variant is exported. Pure functions of the config mapping (no
validation, no third-party import), so that rules' scripts and the report can use them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xaicut.shards import (
    AUTO_EXPORT,
    AUTO_EXPORT_STAGES,
    GRAPHCUT_STAGE,
    segment_stage_modes,
    segment_stage_names,
    student_stage_names,
)


def variant_names(config: dict[str, Any]) -> list[str]:
    """Names of the classifier variants to run, in config order (a ``null`` entry is dropped)."""
    return [name for name, changes in config["variants"].items() if changes is not None]


def variant_train_settings(config: dict[str, Any], variant: str) -> dict[str, Any]:
    """The ``train`` section as classifier variant ``variant`` changes it."""
    return {**config["train"], **config["variants"][variant]}


def mask_stages(config: dict[str, Any]) -> list[str]:
    """Every stage that writes one mask per image a classifier variant is exported with, in
    pipeline order: the attribution methods' masks, ``fused``, ``otsu`` (the Otsu baseline,
    one per run: ``xaicut.shards.stage_variant``), the graph cuts and (when enabled) the
    student's stages."""
    student = student_stage_names("") if config["student"]["enabled"] else []
    return [*config["attribute"]["methods"], "fused", "otsu",
            *segment_stage_names(config["seeding"]["modes"]), *student]


def external_datasets(config: dict[str, Any]) -> dict[str, Path]:
    """The external datasets to segment and score (config ``external``; a ``null`` folder drops
    an entry): name → folder, in config order."""
    return {name: Path(folder) for name, folder in config["external"].items() if folder}


def export_variant(config: dict[str, Any]) -> str:
    """The classifier variant whose masks are exported (``export.variant``, else the first)."""
    return config["export"]["variant"] or variant_names(config)[0]


def exported_stages(config: dict[str, Any]) -> list[str]:
    """The stages export may read: ``export.stage``, or both candidates of ``auto`` (the
    student's graph cut only when there is a student)."""
    stage = config["export"]["stage"]
    if stage != AUTO_EXPORT:
        return [stage]
    student = config["student"]["enabled"]
    return [s for s in AUTO_EXPORT_STAGES if student or s not in student_stage_names("")]


def asked_segment_stages(config: dict[str, Any]) -> dict[str, str]:
    """The graph-cut stages (stage → seed mode, ``seeding.modes`` order) a run computes whether
    or not it scores (rule ``segment``): the exported stage (both candidates of ``auto``) and,
    with the student, ``graphcut``, the exported variant's masks its pseudo-labels are made of.
    The label-free confidence reads the exported mask and the image only."""
    asked = {*exported_stages(config), *([GRAPHCUT_STAGE] if config["student"]["enabled"] else [])}
    return {s: m for s, m in segment_stage_modes(config["seeding"]["modes"]).items() if s in asked}


def scored_segment_stages(config: dict[str, Any]) -> dict[str, str]:
    """The graph-cut stages (stage → seed mode) only ``evaluate`` reads (rule
    ``segment_scored``): every stage of ``seeding.modes`` not in :func:`asked_segment_stages`."""
    asked = asked_segment_stages(config)
    return {s: m for s, m in segment_stage_modes(config["seeding"]["modes"]).items()
            if s not in asked}
