"""Write a colour-shifted, rescaled copy of one split of a run as a new HAM10000-layout dataset.

A stand-in for "another camera" built from data at hand, to measure how the students transfer
(``external:`` datasets, ``student.adapt``; docs/self-training.md). Every image of the split is
multiplied per channel by ``--gains`` (RGB), gamma-corrected by ``--gamma`` and resized by
``--scale`` (area-averaged down, bilinear up); its ground-truth mask, if any, is resized with
nearest neighbour. The split's images are lesion-disjoint from the run's training images, so the
copy holds no image a model trained on.

    .venv/bin/python benchmarks/shifted_copy.py RESULTS_DIR MASKS_DIR OUT_DIR \\
        [--split test] [--gains 0.85,1.0,1.2] [--gamma 0.8] [--scale 1.5]

``RESULTS_DIR``: the run's results folder (``data/manifest.csv``); ``MASKS_DIR``:
``<image_id>_segmentation.png`` files. Prints what it wrote; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xaicut.io import read_mask, read_rgb, write_image, write_mask  # noqa: E402

IMAGES, MASKS = "HAM10000_images_part_1", "HAM10000_segmentations_lesion_tschandl"
METADATA_COLUMNS = ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"]


def shift_colours(image: np.ndarray, gains: np.ndarray, gamma: float) -> np.ndarray:
    """uint8 RGB (H, W, 3) → the same with each channel times ``gains`` (3,), then
    ``(x / 255) ** gamma``, clipped to 0..255."""
    scaled = np.clip(image.astype(np.float32) * gains / 255.0, 0.0, 1.0)
    return np.round(255.0 * scaled ** gamma).astype(np.uint8)


def resized(image: np.ndarray, scale: float, interpolation: int) -> np.ndarray:
    """``image`` resized by ``scale`` (both sides, rounded)."""
    height, width = image.shape[:2]
    return cv2.resize(image, (round(width * scale), round(height * scale)),
                      interpolation=interpolation)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results_dir", type=Path)
    parser.add_argument("masks_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("--gains", default="0.85,1.0,1.2")
    parser.add_argument("--gamma", type=float, default=0.8)
    parser.add_argument("--scale", type=float, default=1.5)
    args = parser.parse_args()
    gains = np.array([float(g) for g in args.gains.split(",")], dtype=np.float32)
    manifest = pd.read_csv(args.results_dir / "data" / "manifest.csv")
    rows = manifest[manifest.split == args.split]
    image_interpolation = cv2.INTER_AREA if args.scale < 1 else cv2.INTER_LINEAR
    with_mask = 0
    for row in rows.itertuples():
        image = resized(shift_colours(read_rgb(row.image_path), gains, args.gamma), args.scale,
                        image_interpolation)
        write_image(image, args.out_dir / IMAGES / f"{row.image_id}.jpg")
        mask_path = args.masks_dir / f"{row.image_id}_segmentation.png"
        if mask_path.is_file():
            mask = resized(read_mask(mask_path).astype(np.uint8), args.scale, cv2.INTER_NEAREST)
            write_mask(mask > 0, args.out_dir / MASKS / f"{row.image_id}_segmentation.png")
            with_mask += 1
    metadata = rows.assign(dx_type="histo", age=50.0, sex="unknown", localization="unknown")
    metadata[METADATA_COLUMNS].to_csv(args.out_dir / "HAM10000_metadata.csv", index=False)
    print(f"{len(rows)} {args.split} images ({with_mask} with a mask) shifted by gains {gains}, "
          f"gamma {args.gamma}, scale {args.scale} -> {args.out_dir}")
    print(json.dumps({"images": len(rows), "masks": with_mask,
                      "gains": [round(float(g), 4) for g in gains],
                      "gamma": args.gamma, "scale": args.scale}))


if __name__ == "__main__":
    main()
