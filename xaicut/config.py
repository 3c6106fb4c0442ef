"""Configuration loading and validation against ``schemas/config.schema.yaml``.

The Snakefile validates with ``snakemake.utils.validate`` against the same schema; this module gives
library code and tests the identical check without a running workflow.
"""

from __future__ import annotations

import argparse
import copy
import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from snakemake.utils import update_config, validate

from xaicut.settings import export_variant, mask_stages, variant_names, variant_train_settings
from xaicut.shards import AUTO_EXPORT

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"
WORKFLOW_CONFIG = SCHEMA_PATH.parents[1] / "config.yaml"
"""The config file the Snakefile always reads first."""


class ConfigError(ValueError):
    """The configuration breaks the schema; the message names the offending key."""


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``config`` checked against the schema with defaults filled in.

    Raises ``ConfigError`` naming the key for unknown keys, wrong types and missing ``data_dir``.
    """
    checked = copy.deepcopy(config)
    try:
        validate(checked, str(SCHEMA_PATH), set_default=True)
    except Exception as err:  # snakemake wraps jsonschema's ValidationError in WorkflowError
        raise ConfigError(f"invalid configuration: {err}") from err
    check_consistency(checked)
    return checked


def check_consistency(config: dict[str, Any]) -> None:
    """Raise ``ConfigError`` for combinations the schema cannot express (keys named)."""
    if not variant_names(config):
        raise ConfigError("variants: every variant is null; at least one must run")
    train_schema = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))["properties"]["train"]
    for variant in variant_names(config):
        settings = variant_train_settings(config, variant)
        try:
            jsonschema.validate(settings, train_schema)
        except jsonschema.ValidationError as err:
            raise ConfigError(f"variants.{variant}: {err.message}") from err
        if settings["init"] == "self_supervised" and settings["pretrained_weights"]:
            raise ConfigError(f"variant {variant}: train.init self_supervised and "
                              "train.pretrained_weights both set the initial weights; keep one")
    methods = config["attribute"]["methods"]
    mode = config["fuse"]["mode"]
    if mode not in ("and", "or", *methods):
        raise ConfigError(f"fuse.mode {mode!r} must be 'and', 'or' or one of attribute.methods "
                          f"{methods}")
    export = config["export"]
    if export["variant"] is not None and export["variant"] not in variant_names(config):
        raise ConfigError(f"export.variant {export['variant']!r} is not one of the variants "
                          f"{variant_names(config)}")
    if config["student"]["enabled"] and "train" not in export["splits"]:
        raise ConfigError("student.enabled: the student learns from the training images' masks; "
                          "add train to export.splits or set student.enabled: false")
    check_student_encoder(config)
    stages = [AUTO_EXPORT, *mask_stages(config)]
    if export["stage"] not in stages:
        raise ConfigError(f"export.stage {export['stage']!r} must be one of {stages}")


def check_student_encoder(config: dict[str, Any]) -> None:
    """Raise ``ConfigError`` when ``student.encoder_from_classifier`` asks for the exported
    variant's classifier as the student's encoder and that classifier cannot be one (another
    ResNet, or CBAM blocks the U-Net encoder lacks)."""
    student = config["student"]
    if not (student["enabled"] and student["encoder_from_classifier"]):
        return
    variant = export_variant(config)
    settings = variant_train_settings(config, variant)
    if settings["arch"] != student["encoder"] or settings["cbam"]:
        raise ConfigError(
            f"student.encoder_from_classifier: the student's encoder ({student['encoder']}) starts "
            f"from variant {variant}'s classifier, a {settings['arch']} with cbam "
            f"{settings['cbam']}; it must be a {student['encoder']} without CBAM (set "
            "student.encoder_from_classifier: false to start from pretrained_weights or scratch)")


def load_config(path: str | os.PathLike, **overrides: Any) -> dict[str, Any]:
    """Read a YAML config file, apply top-level ``overrides`` and validate it."""
    with open(path, encoding="utf-8") as f:
        config = yaml.safe_load(f) or {}
    config.update(overrides)
    return validate_config(config)


def add_workflow_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Give a command the workflow's ``--configfile`` and ``--config`` options, so that it finds
    the run that ``snakemake`` with the same options wrote (``workflow_config``)."""
    parser.add_argument("--configfile", nargs="*", type=Path, default=[],
                        help="config files given to snakemake, in order")
    parser.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE",
                        help="top-level overrides given to snakemake")


def workflow_config(args: argparse.Namespace) -> dict[str, Any]:
    """The validated config a workflow run with the options of ``add_workflow_config_arguments``
    sees: ``WORKFLOW_CONFIG``, updated by each config file in turn (nested sections merged, as
    snakemake does), then by the ``KEY=VALUE`` overrides (values read as YAML)."""
    config = yaml.safe_load(WORKFLOW_CONFIG.read_text(encoding="utf-8"))
    for path in args.configfile:
        update_config(config, yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})
    for item in args.config:
        key, value = item.split("=", 1)
        config[key] = yaml.safe_load(value)
    return validate_config(config)
