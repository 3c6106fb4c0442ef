# Shared helpers: config validation, result paths, shard lists, GPU resources.

from pathlib import Path

import pandas as pd
from snakemake.utils import validate

from xaicut.config import check_consistency
from xaicut.model import check_pretrained_weights
from xaicut.shards import SHARD_PATTERN, split_shards, segment_stage_names

validate(config, "../schemas/config.schema.yaml")
check_consistency(config)
# A bad weights file stops the run now, not after ingest.
WEIGHTS = config["train"]["pretrained_weights"]
if WEIGHTS:
    check_pretrained_weights(WEIGHTS, config["train"]["arch"])
UNET = config["unet"]["enabled"]
UNET_WEIGHTS = config["unet"]["pretrained_weights"]
if UNET and UNET_WEIGHTS:
    check_pretrained_weights(UNET_WEIGHTS, config["unet"]["encoder"])

RESULTS = Path(config["results_dir"])
# Outputs from fuse on depend on cheap parameters: keyed by run name, side by side.
RUN = RESULTS / "runs" / config["run"]
DEMO = config["data_dir"] == "demo"
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


def attribution_dirs(wildcards):
    """Attribution folders of every attributed shard (validation and test)."""
    return [
        str(RESULTS / "attribution" / sh) for sh in shards_of("val") + test_shards()
    ]


def faithfulness_tables(wildcards):
    """Per-shard deletion tables of every attributed shard."""
    return [
        str(RESULTS / "faithfulness" / f"{sh}.csv")
        for sh in shards_of("val") + test_shards()
    ]


def auto_thresholds_input(wildcards):
    """The threshold study's validation thresholds when ``fuse.threshold_method`` is auto."""
    if config["fuse"]["threshold_method"] != "auto":
        return []
    return [str(RESULTS / "thresholds" / "auto_thresholds.json")]


def stage_mask_dirs(wildcards):
    """Every per-shard mask folder that evaluate reads, in stage order: fuse and segment
    stages, then the supervised U-Net when enabled (stage = the folder's parent name).
    """
    stages = [*FUSE_STAGES, *SEGMENT_STAGES]
    dirs = [str(RUN / "masks" / s / sh) for s in stages for sh in test_shards()]
    return dirs + [str(UNET_MASKS / sh) for sh in test_shards() if UNET]


def segment_tables(wildcards):
    """Per-shard graph-cut status tables."""
    return [str(RUN / "segment" / f"{sh}.csv") for sh in test_shards()]


wildcard_constraints:
    shard=SHARD_PATTERN,
