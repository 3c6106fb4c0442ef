"""Stage ``ingest``: validate a HAM10000 release folder and write the split manifest.

Input: the release layout (``docs/data-contracts.md`` §0). Output: ``manifest.csv`` (§1) with a
lesion-grouped, class-stratified train/val/test split. Every problem found is reported with the file
it concerns before any expensive stage runs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from xaicut import CLASSES

log = logging.getLogger(__name__)

METADATA_FILE = "HAM10000_metadata.csv"
IMAGE_GLOB = "HAM10000_images_part_*/*.jpg"
MASK_DIR = "HAM10000_segmentations_lesion_tschandl"
METADATA_COLUMNS = ("lesion_id", "image_id", "dx")
MANIFEST_COLUMNS = (
    "image_id", "lesion_id", "dx", "label", "split", "image_path", "mask_path", "width", "height"
)


class DatasetError(ValueError):
    """The input dataset is unusable; the message lists each file and its problem."""


def mask_path_for(data_dir: Path, image_id: str) -> Path:
    """Return the HAM10000 lesion-mask path of ``image_id``."""
    return data_dir / MASK_DIR / f"{image_id}_segmentation.png"


def read_metadata(data_dir: Path) -> pd.DataFrame:
    """Read and check ``HAM10000_metadata.csv``: required columns, known dx, unique image ids."""
    path = data_dir / METADATA_FILE
    if not path.is_file():
        raise DatasetError(f"{path}: metadata file not found")
    meta = pd.read_csv(path, dtype=str)
    missing = [c for c in METADATA_COLUMNS if c not in meta.columns]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {missing}")
    problems = [
        f"{path}: unknown dx {dx!r} for {iid}"
        for iid, dx in zip(meta.image_id, meta.dx)
        if dx not in CLASSES
    ]
    problems += [f"{path}: duplicate image_id {iid}" for iid in meta.image_id[meta.image_id.duplicated()]]
    if problems:
        raise DatasetError("\n".join(problems))
    return meta


def check_image_pair(image_path: Path, mask_path: Path) -> tuple[int, int]:
    """Decode an image and its mask; return (width, height) or raise ``DatasetError``."""
    image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"{image_path}: image not readable")
    if not mask_path.is_file():
        raise DatasetError(f"{mask_path}: mask missing for {image_path.name}")
    mask = cv2.imread(str(mask_path), cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise DatasetError(f"{mask_path}: mask not readable")
    if mask.shape[:2] != image.shape[:2]:
        raise DatasetError(
            f"{mask_path}: mask size {mask.shape[1]}x{mask.shape[0]} differs from image "
            f"{image.shape[1]}x{image.shape[0]}"
        )
    if mask.ndim != 2 or not np.isin(mask, (0, 255)).all():
        raise DatasetError(f"{mask_path}: mask is not single-channel binary 0/255")
    return image.shape[1], image.shape[0]


def collect_images(data_dir: Path, meta: pd.DataFrame) -> pd.DataFrame:
    """Join metadata with image and mask files, decode each pair and return manifest rows (no split).

    Raises ``DatasetError`` listing every missing or broken file.
    """
    found = {p.stem: p for p in sorted(data_dir.glob(IMAGE_GLOB))}
    problems = [f"{data_dir}: no image file for metadata image_id {i}" for i in meta.image_id if i not in found]
    rows = []
    for rec in tqdm(meta.itertuples(index=False), total=len(meta), desc="ingest", unit="img"):
        if rec.image_id not in found:
            continue
        image_path, mask_path = found[rec.image_id], mask_path_for(data_dir, rec.image_id)
        try:
            width, height = check_image_pair(image_path, mask_path)
        except DatasetError as err:
            problems.append(str(err))
            continue
        rows.append((rec.image_id, rec.lesion_id, rec.dx, CLASSES.index(rec.dx), "",
                     str(image_path.resolve()), str(mask_path.resolve()), width, height))
    if problems:
        raise DatasetError(f"{len(problems)} problem(s) in {data_dir}:\n" + "\n".join(problems))
    return pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))


def assign_splits(frame: pd.DataFrame, val: float, test: float, seed: int) -> pd.Series:
    """Assign each lesion (all its images) to train/val/test, stratified by class.

    Within each class, lesions are shuffled with ``seed`` and taken into test until the class's
    test image share reaches ``test``, then into val likewise; the rest is train. A class with at
    least three lesions gets at least one in each split. Returns the split per row of ``frame``.
    """
    rng = np.random.default_rng(seed)
    lesion_split: dict[str, str] = {}
    lesion_size = frame.groupby("lesion_id").size()
    lesion_dx = frame.groupby("lesion_id")["dx"].first()
    for dx in CLASSES:
        lesions = np.array(sorted(lesion_dx.index[lesion_dx == dx]))
        rng.shuffle(lesions)
        total = lesion_size[lesions].sum() if len(lesions) else 0
        quota = {"test": test * total, "val": val * total}
        taken = {"test": 0, "val": 0}
        for i, lesion in enumerate(lesions):
            if len(lesions) >= 3 and i < 2:
                split = ("test", "val")[i]
            else:
                split = next((n for n in ("test", "val") if taken[n] < quota[n]), "train")
            if split != "train":
                taken[split] += lesion_size[lesion]
            lesion_split[lesion] = split
    return frame["lesion_id"].map(lesion_split)


def build_manifest(data_dir: str | os.PathLike, val: float, test: float, seed: int) -> pd.DataFrame:
    """Validate the release folder and return the manifest (``docs/data-contracts.md`` §1)."""
    data_dir = Path(data_dir)
    meta = read_metadata(data_dir)
    frame = collect_images(data_dir, meta)
    frame["split"] = assign_splits(frame, val, test, seed)
    counts = frame.groupby(["split", "dx"]).size().unstack(fill_value=0)
    log.info("split sizes (images per class):\n%s", counts.to_string())
    return frame.sort_values("image_id").reset_index(drop=True)
