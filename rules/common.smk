# Shared helpers: config validation, result paths, shard lists, GPU resources.

import re
from pathlib import Path

import pandas as pd
from snakemake.utils import validate

from xaicut.config import check_consistency, variant_names, variant_train_settings
from xaicut.model import check_pretrained_weights
from xaicut.shards import (
    DATASET_PATTERN,
    SHARD_PATTERN,
    segment_stage_names,
    shard_dataset,
    split_shards,
)

validate(config, "../schemas/config.schema.yaml")
check_consistency(config)
VARIANTS = variant_names(config)
# A bad weights file stops the run now, not after ingest.
for settings in (variant_train_settings(config, v) for v in VARIANTS):
    if settings["pretrained_weights"]:
        check_pretrained_weights(settings["pretrained_weights"], settings["arch"])
UNET = config["unet"]["enabled"]
UNET_WEIGHTS = config["unet"]["pretrained_weights"]
if UNET and UNET_WEIGHTS:
    check_pretrained_weights(UNET_WEIGHTS, config["unet"]["encoder"])

RESULTS = Path(config["results_dir"])
# Outputs from fuse on depend on cheap parameters: keyed by run name, side by side.
RUN = RESULTS / "runs" / config["run"]
# The members of a variant's deep ensemble, each trained by its own train_member job.
MEMBERS = RESULTS / "train" / "{variant}" / "members"
DEMO = config["data_dir"] == "demo"
EXTERNAL = {name: Path(folder) for name, folder in config["external"].items() if folder}
DATA_DIR = RESULTS / "demo_data" if DEMO else Path(config["data_dir"])
FUSE_STAGES = [*config["attribute"]["methods"], "fused"]
# The supervised baseline does not depend on fuse/segment settings: shared by every run name.
UNET_MASKS = RESULTS / "supervised" / "unet"
SEGMENT_STAGES = ["otsu", *segment_stage_names(config["seeding"]["modes"])]


def gpu_resources():
    """Resources of GPU-capable rules: one GPU when the config device is cuda."""
    return {"gpu": 1} if config["device"] == "cuda" else {}


def shards_of(split):
    """Shard names of one split (known once the ingest checkpoint has run)."""
    manifest = pd.read_csv(checkpoints.ingest.get().output.manifest)
    return split_shards(manifest, config["attribute"]["shard_size"], split)


def test_shards():
    """Shard names of the test split: fused, segmented and scored."""
    return shards_of("test")


def manifest_of(dataset):
    """The manifest of the main dataset ('') or of an external one."""
    if not dataset:
        return RESULTS / "data" / "manifest.csv"
    return RESULTS / "external" / dataset / "manifest.csv"


def shard_manifest(wildcards):
    """The manifest the job's shard is cut from."""
    return str(manifest_of(shard_dataset(wildcards.shard)))


def scored_shards(wildcards):
    """Shards an evaluate job scores: the test split, or all of an external dataset."""
    dataset = getattr(wildcards, "dataset", "")
    if not dataset:
        return test_shards()
    manifest = checkpoints.ingest_external.get(dataset=dataset).output.manifest
    size = config["attribute"]["shard_size"]
    return split_shards(pd.read_csv(manifest), size, "test", dataset)


def self_supervised_weights(settings):
    """The pretrain output a variant starts from (train.init self_supervised), else None."""
    if settings["init"] == "self_supervised":
        return RESULTS / "pretrain" / settings["arch"] / "encoder.pt"
    return None


def variant_train(wildcards):
    """The train settings of the job's classifier variant (self-supervised weights filled in)."""
    settings = variant_train_settings(config, wildcards.variant)
    weights = self_supervised_weights(settings)
    return (
        settings
        if weights is None
        else {**settings, "pretrained_weights": str(weights)}
    )


def member_train(wildcards):
    """The train settings of one ensemble member: the variant's, less the member count (so that
    adding members leaves the trained ones up to date)."""
    return {k: v for k, v in variant_train(wildcards).items() if k != "members"}


def member_files(wildcards, name):
    """File ``name`` (model.pt, history.csv) of every member of the job's variant."""
    members = variant_train_settings(config, wildcards.variant)["members"]
    return expand(
        MEMBERS / "{member}" / name, variant=wildcards.variant, member=range(members)
    )


def train_inputs(wildcards):
    """Inputs of train_member: dataset B, and the self-supervised weights the variant starts from."""
    weights = self_supervised_weights(variant_train_settings(config, wildcards.variant))
    return {
        "dataset": RESULTS / "data" / "dataset_b.csv",
        **({"weights": weights} if weights else {}),
    }


def attribution_dirs(wildcards):
    """Attribution folders of one variant's attributed shards (validation and test)."""
    return [
        str(RESULTS / "attribution" / wildcards.variant / sh)
        for sh in shards_of("val") + test_shards()
    ]


def faithfulness_tables(wildcards):
    """Per-shard deletion tables of one variant's attributed shards."""
    return [
        str(RESULTS / "faithfulness" / wildcards.variant / f"{sh}.csv")
        for sh in shards_of("val") + test_shards()
    ]


def auto_thresholds_input(wildcards):
    """The variant's validation thresholds when ``fuse.threshold_method`` is auto."""
    if config["fuse"]["threshold_method"] != "auto":
        return []
    return [str(RESULTS / "thresholds" / wildcards.variant / "auto_thresholds.json")]


def stage_mask_dirs(wildcards):
    """Every per-shard mask folder that evaluate reads, in stage order: fuse and segment
    stages per variant, then (main dataset) the supervised U-Net when enabled; the stage is the
    folder's parent name, the variant its grandparent (``supervised`` for the U-Net).
    """
    stages = [*FUSE_STAGES, *SEGMENT_STAGES]
    shards = scored_shards(wildcards)
    dirs = [
        str(RUN / "masks" / v / s / sh)
        for v in VARIANTS
        for s in stages
        for sh in shards
    ]
    unet = UNET and not getattr(wildcards, "dataset", "")
    return dirs + [str(UNET_MASKS / sh) for sh in shards if unet]


def segment_tables(wildcards):
    """Per-shard graph-cut status tables of every variant."""
    shards = scored_shards(wildcards)
    return [str(RUN / "segment" / v / f"{sh}.csv") for v in VARIANTS for sh in shards]


def external_summaries(wildcards):
    """Metrics summaries of the external datasets (cross-dataset scoring)."""
    return [str(RUN / "external" / d / "metrics" / "summary.csv") for d in EXTERNAL]


wildcard_constraints:
    shard=SHARD_PATTERN,
    dataset=DATASET_PATTERN,
    variant="|".join(re.escape(v) for v in VARIANTS),
    member=r"\d+",


MODEL_TABLES = {
    "train": ["history.csv", "classification_report.csv", "test_predictions.csv"],
    "thresholds": [
        "jaccard_curves.csv",
        "best_thresholds.csv",
        "by_outcome.csv",
        "mann_whitney.csv",
        "auto_thresholds.json",
    ],
    "faithfulness": ["summary.csv"],
}


def model_tables(wildcards):
    """Per-variant tables the report reads: classifier, threshold study, faithfulness."""
    return [
        str(RESULTS / folder / v / name)
        for v in VARIANTS
        for folder, names in MODEL_TABLES.items()
        for name in names
    ]
