"""Shared fixtures: a tiny HAM10000-layout release written from scratch, and repository paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xaicut import CLASSES
from xaicut.config import validate_config
from xaicut.io import write_csv, write_image, write_mask

REPO = Path(__file__).resolve().parents[1]


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
