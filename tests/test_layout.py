"""The results layout (xaicut.layout): the paths of docs/data-contracts.md, and the workflow's
rules writing exactly where the layout says, read from a dry run's jobs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, write_tiny_release
from conftest import SNAKEMAKE as BASE_SNAKEMAKE
from xaicut.config import validate_config
from xaicut.layout import CLASSIFIER_TABLES, METRICS_TABLES, STUDY_TABLES, Layout
from xaicut.report.inputs import MaskCoverage, report_inputs
from xaicut.settings import asked_segment_stages, scored_segment_stages, variant_names
from xaicut.shards import (
    IMAGE_PRIOR,
    OTSU_STAGE,
    image_shards,
    segmented_splits,
    shard_rows,
    split_shards,
    stage_variant,
    student_stage_names,
)

SNAKEMAKE = [*BASE_SNAKEMAKE, "--cores", "1"]


def test_paths_follow_the_contracts_and_pass_placeholders_through():
    layout = Layout(Path("res"), "smooth")
    assert layout.run == Path("res/runs/smooth")
    assert layout.masks("{variant}", "fused", "{shard}") == Path(
        "res/runs/smooth/masks/{variant}/fused/{shard}")
    assert layout.attribution("cbam", "ph2-test001") == Path("res/attribution/cbam/ph2-test001")
    assert layout.metrics_table("summary", "ph2") == Path(
        "res/runs/smooth/external/ph2/metrics/summary.csv")
    assert layout.scored_masks("supervised", "unet", "test000") == Path(
        "res/supervised/unet/test000")
    assert layout.manifest("ph2") == Path("res/external/ph2/manifest.csv")
    assert layout.round_masks("plain", 1, "student", "val000") == Path(
        "res/runs/smooth/student/plain/round1/masks/student/val000")


def test_the_otsu_baseline_is_one_folder_for_every_variant():
    """The Otsu lesion needs no classifier: every variant's otsu is the image prior's."""
    assert {stage_variant(v, OTSU_STAGE) for v in ("plain", "cbam")} == {IMAGE_PRIOR}
    assert stage_variant("plain", "graphcut_otsu") == "plain"   # seed mode otsu of a variant
    assert stage_variant("cbam", "graphcut") == "cbam"


def test_image_shards_agree_with_the_shards_cut():
    manifest = pd.DataFrame({"image_id": [f"ISIC_{k:07d}" for k in range(11)][::-1],
                             "split": ["train", "val", "test"] * 3 + ["test", "test"]})
    shards = image_shards(manifest, 2)
    for split in ("train", "val", "test"):
        for shard in split_shards(manifest, 2, split):
            assert set(shards[shards == shard].index) == set(
                shard_rows(manifest, shard, 2).image_id)


def planned_jobs(output: str) -> list[tuple[str, dict[str, str], set[str], set[str]]]:
    """(rule, wildcards, inputs, outputs) of every job a dry run prints."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?(?:rule|checkpoint) \w+:\n)", output):
        head = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):\n", block)
        if not head:
            continue
        fields = dict(re.findall(r"^    (\w+): (.*)$", block, re.M))
        wildcards = dict(w.split("=", 1) for w in fields.get("wildcards", "").split(", ") if w)
        files = {k: {p for p in fields.get(k, "").split(", ") if p} for k in ("input", "output")}
        jobs.append((head[1], wildcards, files["input"], files["output"]))
    return jobs


def expected_outputs(layout: Layout, config: dict, rule: str, w: dict[str, str]) -> set[Path]:
    """What the layout says a job of ``rule`` with wildcards ``w`` writes."""
    methods = config["attribute"]["methods"]
    paths = {
        "train": lambda: {layout.train(w["variant"]) / "model.pt",
                          *(layout.classifier_table(w["variant"], t) for t in CLASSIFIER_TABLES)},
        "attribute": lambda: {layout.attribution(w["variant"], w["shard"]),
                              layout.deletion_shard(w["variant"], w["shard"])},
        "threshold_study": lambda: {*(layout.study_table(w["variant"], t) for t in STUDY_TABLES),
                                    layout.auto_thresholds(w["variant"])},
        "faithfulness": lambda: {layout.faithfulness(w["variant"]) / "deletion.csv",
                                 layout.faithfulness_summary(w["variant"])},
        "fuse": lambda: {layout.masks(w["variant"], s, w["shard"]) for s in [*methods, "fused"]},
        "segment": lambda: {*(layout.masks(w["variant"], s, w["shard"])
                              for s in asked_segment_stages(config)),
                            layout.segment_table(w["variant"], w["shard"])},
        "segment_scored": lambda: {*(layout.masks(w["variant"], s, w["shard"])
                                     for s in scored_segment_stages(config)),
                                   layout.scored_segment_table(w["variant"], w["shard"])},
        "otsu": lambda: {layout.masks(IMAGE_PRIOR, OTSU_STAGE, w["shard"])},
        "segment_image_prior": lambda: {layout.masks(IMAGE_PRIOR, "graphcut_otsu", w["shard"]),
                                        layout.segment_table(IMAGE_PRIOR, w["shard"])},
        "student": lambda: {*(layout.masks(w["variant"], s, w["shard"])
                              for s in student_stage_names("")),
                            layout.student_segment_table(w["variant"], w["shard"])},
        "unet": lambda: {layout.unet_masks(w["shard"])},
        "export": lambda: {layout.segmentations(), layout.segmentations_table()},
        "score_segmentations": lambda: {layout.segmentation_scores,
                                        layout.segmentation_scores_per_image},
        "evaluate": lambda: {layout.metrics_table(t) for t in METRICS_TABLES},
        "report": lambda: {layout.report},
    }
    return paths[rule]() if rule in paths else set()


@pytest.mark.slow
def test_the_rules_write_and_the_report_reads_where_the_layout_says(tmp_path):
    """After ingest, a dry run plans every job; their outputs are the layout's paths, and the
    report rule's inputs are what the report reads (xaicut.report.inputs)."""
    write_tiny_release(tmp_path / "data")
    overrides = {"data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results"),
                 "run": "layout"}
    options = ["--config", *(f"{k}={v}" for k, v in overrides.items())]
    subprocess.run([*SNAKEMAKE, *options, "--until", "ingest"], cwd=REPO, check=True,
                   capture_output=True, timeout=600)
    proc = subprocess.run([*SNAKEMAKE, *options, "--dry-run"], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = validate_config({**yaml.safe_load((REPO / "config.yaml").read_text()), **overrides})
    layout = Layout.from_config(config)
    jobs = planned_jobs(proc.stdout)
    checked = set()
    for rule, wildcards, _, outputs in jobs:
        expected = expected_outputs(layout, config, rule, wildcards)
        if expected:
            assert outputs == {str(p) for p in expected}, (rule, wildcards)
            checked.add(rule)
    assert {"train", "attribute", "fuse", "segment", "segment_scored", "otsu",
            "segment_image_prior", "evaluate", "export", "report"} <= checked
    manifest = pd.read_csv(layout.manifest())
    # Two classifier variants, one Otsu baseline: one otsu job per segmented shard.
    assert len(variant_names(config)) == 2
    otsu_shards = [w["shard"] for rule, w, _, _ in jobs if rule == "otsu"]
    segmented = [sh for split in segmented_splits(config["export"]["splits"])
                 for sh in split_shards(manifest, config["attribute"]["shard_size"], split)]
    assert sorted(otsu_shards) == sorted(segmented)
    inputs = report_inputs(layout, variant_names(config), [], MaskCoverage.of(manifest, {}))
    read = {p for files in (inputs.files(), inputs.scored_files()) for ps in files.values()
            for p in ps}
    (report_job,) = [inputs_ for rule, _, inputs_, _ in jobs if rule == "report"]
    assert report_job == read
