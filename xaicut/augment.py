"""Stage ``augment``: class-balanced augmentation of train and val (paper 000 §2.1, dataset B).

Input: the manifest (``docs/data-contracts.md`` §1). Output: augmented JPEG copies and
``dataset_b.csv`` (§2). Copies per image follow inverse class frequency: a class with ``n`` images
gets ``round(target_fraction * n_max / n) - 1`` copies per image (capped), so the majority class
gets none and the rarest the most. Test images are never augmented. Copies keep the source size; the
training loader resizes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from xaicut.io import read_rgb, write_image

log = logging.getLogger(__name__)

DATASET_B_COLUMNS = ("image_id", "source_image_id", "dx", "label", "split", "image_path",
                     "augmented")


def copies_per_image(counts: pd.Series, target_fraction: float, max_copies: int) -> pd.Series:
    """Return augmented copies per image for each class from its image count (inverse frequency)."""
    target = target_fraction * counts.max()
    copies = np.rint(target / counts.clip(lower=1)) - 1
    return copies.clip(lower=0, upper=max_copies).astype(int)


def build_transform(seed: int) -> A.Compose:
    """Return the seeded geometric + mild photometric augmentation pipeline.

    Colour changes are kept small because lesion colour is diagnostic.
    """
    return A.Compose(
        [
            A.HorizontalFlip(p=0.5),
            A.VerticalFlip(p=0.5),
            A.Affine(scale=(0.85, 1.15), rotate=(-45, 45), translate_percent=(-0.05, 0.05),
                     border_mode=cv2.BORDER_REFLECT_101, p=0.9),
            A.RandomBrightnessContrast(brightness_limit=0.1, contrast_limit=0.1, p=0.5),
            A.HueSaturationValue(hue_shift_limit=3, sat_shift_limit=8, val_shift_limit=5, p=0.3),
        ],
        seed=seed,
    )


def augment_split(frame: pd.DataFrame, out_dir: Path, transform: A.Compose,
                  copies: pd.Series) -> pd.DataFrame:
    """Write ``copies[dx]`` augmented copies of every row of ``frame``; return their dataset-B
    rows."""
    rows = []
    for rec in tqdm(frame.itertuples(index=False), total=len(frame), desc="augment", unit="img"):
        n_copies = int(copies.get(rec.dx, 0))
        if n_copies == 0:
            continue
        image = read_rgb(rec.image_path)
        for k in range(n_copies):
            image_id = f"{rec.image_id}_aug{k:03d}"
            path = out_dir / f"{image_id}.jpg"
            write_image(transform(image=image)["image"], path)
            rows.append((image_id, rec.image_id, rec.dx, rec.label, rec.split, str(path.resolve()),
                         True))
    return pd.DataFrame(rows, columns=list(DATASET_B_COLUMNS))


def build_dataset_b(manifest: pd.DataFrame, out_dir: str | os.PathLike, enabled: bool,
                    target_fraction: float, max_copies: int, seed: int) -> pd.DataFrame:
    """Augment train and val of ``manifest`` into ``out_dir``; return the dataset-B table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    originals = manifest.assign(source_image_id=manifest.image_id, augmented=False)
    parts = [originals[list(DATASET_B_COLUMNS)]]
    if enabled:
        transform = build_transform(seed)
        for split in ("train", "val"):
            subset = manifest[manifest.split == split]
            copies = copies_per_image(subset.dx.value_counts(), target_fraction, max_copies)
            log.info("%s copies per image: %s", split, copies.to_dict())
            parts.append(augment_split(subset, out_dir, transform, copies))
    dataset = pd.concat(parts, ignore_index=True)
    log.info("dataset B sizes:\n%s", dataset.groupby(["split", "dx"]).size().unstack(fill_value=0))
    return dataset
