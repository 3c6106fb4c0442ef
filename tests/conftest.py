"""Shared fixtures: a tiny HAM10000-layout release written from scratch, and repository paths."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from xaicut import CLASSES
from xaicut.config import validate_config
from xaicut.io import write_csv, write_image, write_mask

REPO = Path(__file__).resolve().parents[1]
if "PYTEST_XDIST_WORKER" in os.environ:
    # make test runs one worker per core: one thread each (inherited by the workflow runs'
    # jobs), or the thread pools of two workers oversubscribe the cores and spin.
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
SNAKEMAKE_WORKDIR = Path(tempfile.mkdtemp(
    prefix=f"xaicut-snakemake-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-"))
"""Snakemake's working directory (its ``.snakemake/``: locks, metadata, incomplete markers) for
the workflow runs of this test process. Test files run in parallel (``make test``: pytest -n
with one file per worker); a Snakemake that finishes removes every lock of its working
directory, so parallel runs must not share one. Removed when the process ends."""
atexit.register(shutil.rmtree, SNAKEMAKE_WORKDIR, ignore_errors=True)
(SNAKEMAKE_WORKDIR / "config.yaml").symlink_to(REPO / "config.yaml")  # the Snakefile's configfile
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
             "--directory", str(SNAKEMAKE_WORKDIR)]
"""The workflow's command line in the tests: the repository's Snakefile, this process's
working directory."""


def train_settings(**changes) -> dict:
    """The ``train`` config section: schema defaults with ``changes``."""
    return validate_config({"data_dir": "demo", "train": changes})["train"]


def write_tiny_release(root: Path, lesions_per_class: int = 4, images_per_lesion: int = 2,
                       size: tuple[int, int] = (48, 36), seed: int = 0) -> pd.DataFrame:
    """Write a HAM10000-layout folder: a dark disc (lesion) on light noise per image.

    Returns the metadata table. Image ids are ``ISIC_{n:07d}``, lesion ids ``HAM_{n:07d}``.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[:h, :w]
    rows = []
    for c, dx in enumerate(CLASSES):
        for lesion in range(lesions_per_class):
            lesion_id = f"HAM_{c * 100 + lesion:07d}"
            for _ in range(images_per_lesion):
                image_id = f"ISIC_{len(rows):07d}"
                mask = (xx - w / 2) ** 2 + (yy - h / 2) ** 2 < (h / 3.5) ** 2
                image = rng.normal(200, 10, (h, w, 3))
                image[mask] = rng.normal(60 + 20 * c, 10, (mask.sum(), 3))
                write_image(image.clip(0, 255).astype(np.uint8),
                            root / "HAM10000_images_part_1" / f"{image_id}.jpg")
                write_mask(mask, root / "HAM10000_segmentations_lesion_tschandl"
                           / f"{image_id}_segmentation.png")
                rows.append((lesion_id, image_id, dx, "histo", 50.0, "male", "back"))
    meta = pd.DataFrame(rows, columns=["lesion_id", "image_id", "dx", "dx_type", "age", "sex",
                                       "localization"])
    write_csv(meta, root / "HAM10000_metadata.csv")
    return meta


@pytest.fixture
def tiny_release(tmp_path: Path) -> Path:
    """A freshly written tiny release folder (7 classes × 4 lesions × 2 images)."""
    write_tiny_release(tmp_path / "ham")
    return tmp_path / "ham"
