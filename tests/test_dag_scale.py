"""DAG scale: the paper config on a full-size (10,015-image) HAM10000 layout builds its DAG fast and
its job count grows with the number of shards, not of images (docs/dag.md)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from conftest import REPO, SNAKEMAKE
from xaicut import CLASSES

HAM10000_COUNTS = {"akiec": 327, "bcc": 514, "bkl": 1099, "df": 115, "mel": 1113, "nv": 6705,
                   "vasc": 142}
"""Images per diagnosis in the HAM10000 release (10,015 in all)."""

PAPER = REPO / "configs" / "ham10000-paper.yaml"


def write_full_size_layout(root: Path) -> None:
    """10,015 metadata rows in the HAM10000 layout with 8x6 px images and masks; lesions of one
    or two images, as in the release (7,470 lesions there)."""
    image = np.full((6, 8, 3), 200, np.uint8)
    mask = np.zeros((6, 8), np.uint8)
    mask[2:4, 3:5] = 255
    _, jpeg = cv2.imencode(".jpg", image)
    _, png = cv2.imencode(".png", mask)
    images = root / "HAM10000_images_part_1"
    masks = root / "HAM10000_segmentations_lesion_tschandl"
    images.mkdir(parents=True)
    masks.mkdir()
    rows = []
    for c, dx in enumerate(CLASSES):
        for k in range(HAM10000_COUNTS[dx]):
            image_id = f"ISIC_{len(rows):07d}"
            (images / f"{image_id}.jpg").write_bytes(jpeg.tobytes())
            (masks / f"{image_id}_segmentation.png").write_bytes(png.tobytes())
            lesion = k // 4 * 3 + min(k % 4, 2)  # every 4 images: lesions of 1, 1 and 2 images
            rows.append((f"HAM_{c}{lesion:06d}", image_id, dx, "histo", 50.0, "male", "back"))
    pd.DataFrame(rows, columns=["lesion_id", "image_id", "dx", "dx_type", "age", "sex",
                                "localization"]).to_csv(root / "HAM10000_metadata.csv", index=False)


def snakemake(results: Path, data: Path, *extra: str, shard_size: int = 100,
              rounds: int = 1, transductive: bool = False) -> str:
    """Run snakemake with the paper config, the data and results folders, a shard size, a
    number of self-training rounds and ``student.transductive``."""
    overlay = results.parent / f"shard_size_{shard_size}_rounds_{rounds}_{transductive}.yaml"
    student = f"rounds: {rounds}, transductive: {str(transductive).lower()}"
    overlay.write_text(f"attribute: {{shard_size: {shard_size}}}\nstudent: {{{student}}}\n")
    proc = subprocess.run(
        [*SNAKEMAKE, "--cores", "2", *extra, "--configfile", str(PAPER), str(overlay),
         "--config", f"data_dir={data}", f"results_dir={results}"],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def job_counts(output: str) -> dict[str, int]:
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


@pytest.mark.slow
def test_paper_config_dag_on_10015_images(tmp_path):
    data, results = tmp_path / "HAM10000", tmp_path / "results"
    write_full_size_layout(data)
    assert len(pd.read_csv(data / "HAM10000_metadata.csv")) == 10015
    snakemake(results, data, "--until", "ingest")  # the checkpoint fixes the shards
    manifest = pd.read_csv(results / "data" / "manifest.csv")
    n_train, n_val, n_test = (int((manifest.split == s).sum()) for s in ("train", "val", "test"))
    assert abs(n_test - 1803) <= 40 and abs(n_val - 202) <= 40, (n_val, n_test)

    start = time.perf_counter()
    jobs = job_counts(snakemake(results, data, "--dry-run"))
    seconds = time.perf_counter() - start
    assert seconds < 30, f"DAG of the paper config took {seconds:.1f} s"
    train_shards, val_shards, test_shards = (-(-n // 100) for n in (n_train, n_val, n_test))
    variants = 2  # ResNet152 with and without CBAM
    # Every variant is scored on test and studied on val; the exported one segments every split
    # (its map masks are scored on test only: the export reads the graph cut). segment computes
    # the graph cut the export and the student read; segment_scored the other seed modes, only
    # on the scored test shards.
    assert jobs["attribute"] == variants * (val_shards + test_shards) + train_shards
    assert jobs["segment"] == variants * test_shards + train_shards + val_shards
    assert jobs["segment_scored"] == variants * test_shards
    assert jobs["fuse"] == variants * test_shards
    assert jobs["unet"] == test_shards
    for per_variant in ("train_member", "train", "threshold_study", "faithfulness"):
        assert jobs[per_variant] == variants, per_variant
    # costs gathers every job's benchmark file: one job per run, whatever the data's size
    for single in ("augment", "train_unet", "evaluate", "export", "score_segmentations", "costs",
                   "report"):
        assert jobs[single] == 1, single
    # Self-training: the Otsu-seeded graph cut on every shard, a student for the exported variant
    # on every shard (export.stage auto may export it) and one for the image prior, scored on the
    # test shards.
    assert jobs["segment_image_prior"] == train_shards + val_shards + test_shards
    # The Otsu baseline needs no classifier: once per shard, not per variant.
    assert jobs["otsu"] == train_shards + val_shards + test_shards
    assert jobs["pseudo_labels"] == jobs["train_student"] == 2
    assert jobs["student"] == train_shards + val_shards + test_shards
    assert jobs["otsu_student"] == test_shards
    # 10,015 images, two models: about 685 jobs (shards, not images; costs one)
    assert sum(jobs.values()) < 700

    assert "student_round" not in jobs
    bigger = job_counts(snakemake(results, data, "--dry-run", shard_size=400, rounds=2,
                                  transductive=True))
    bigger_shards = {s: -(-n // 400)
                     for s, n in zip(("train", "val", "test"), (n_train, n_val, n_test))}
    assert bigger["attribute"] == (variants * (bigger_shards["val"] + bigger_shards["test"])
                                   + bigger_shards["train"])
    assert bigger["segment"] == (variants * bigger_shards["test"] + bigger_shards["train"]
                                 + bigger_shards["val"])
    assert bigger["segment_scored"] == variants * bigger_shards["test"]
    # Two transductive rounds: each teacher's round-1 student segments every shard (the test
    # images teach too).
    assert bigger["pseudo_labels"] == bigger["train_student"] == 2 * 2
    assert bigger["student_round"] == 2 * sum(bigger_shards.values())
    print(f"DAG build (dry run) {seconds:.1f} s; jobs {jobs}")
