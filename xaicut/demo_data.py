"""Embedded demo data: a seeded synthetic dataset in the exact HAM10000 release layout.

``write_demo_dataset`` writes ``HAM10000_metadata.csv``, ``HAM10000_images_part_1/*.jpg`` (RGB) and
``HAM10000_segmentations_lesion_tschandl/*_segmentation.png`` (0/255) so the pipeline reads it
exactly like a real download.

The diagnosis is visible ONLY inside the lesion (``xaicut.demo_lesions``): each class has its own
colour palette, internal structures (pigment network, globules, blotches, vessels, scale, lagoons,
central scar), border irregularity and edge sharpness. Everything outside the lesion
(``xaicut.demo_photo``: skin tone, skin texture and lines, illumination, dermoscope vignette,
hairs, bubbles, camera blur and noise) is drawn from the same distributions for every class, so a
classifier trained on the labels has to look at the lesion.
The ground-truth mask is the lesion shape before any nuisance is drawn (hairs do not change it).
About ``repeat_fraction`` of the lesions are photographed 2–3 times under one ``lesion_id`` with a
new pose and new nuisances. All randomness comes from one ``numpy.random.default_rng(seed)``.

Pixel sizes are given for the 600×450 HAM10000 resolution and scale with the image width
(``xaicut.demo_photo.REFERENCE_WIDTH``).
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from xaicut import CLASSES
from xaicut.demo_lesions import draw_lesion
from xaicut.demo_photo import REFERENCE_WIDTH, photograph, skin_tone
from xaicut.io import write_csv, write_image, write_mask

log = logging.getLogger(__name__)

CLASS_FREQUENCIES: dict[str, float] = {
    "akiec": 0.033, "bcc": 0.051, "bkl": 0.110, "df": 0.011, "mel": 0.111, "nv": 0.670,
    "vasc": 0.014,
}
"""HAM10000's class shares (10,015 images)."""

MIN_LESIONS_PER_CLASS = 3
"""Lesions guaranteed per class when ``n_lesions >= MIN_LESIONS_FOR_GUARANTEE``."""
MIN_LESIONS_FOR_GUARANTEE = 50

METADATA_COLUMNS = ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"]
IMAGE_DIR = "HAM10000_images_part_1"
MASK_DIR = "HAM10000_segmentations_lesion_tschandl"
FIRST_IMAGE_NUMBER = 24306
"""HAM10000's first image id is ISIC_0024306."""

LOCALIZATIONS: dict[str, float] = {
    "back": 0.22, "lower extremity": 0.20, "trunk": 0.14, "upper extremity": 0.11,
    "abdomen": 0.10, "face": 0.07, "chest": 0.04, "foot": 0.03, "unknown": 0.02, "neck": 0.02,
    "scalp": 0.01, "hand": 0.01, "ear": 0.01, "genital": 0.01, "acral": 0.01,
}
"""HAM10000 localization values and their approximate shares."""

DX_TYPES: dict[str, dict[str, float]] = {
    "akiec": {"histo": 1.0},
    "bcc": {"histo": 1.0},
    "bkl": {"histo": 0.7, "consensus": 0.25, "confocal": 0.05},
    "df": {"histo": 0.7, "consensus": 0.3},
    "mel": {"histo": 1.0},
    "nv": {"follow_up": 0.55, "histo": 0.35, "consensus": 0.10},
    "vasc": {"histo": 0.3, "consensus": 0.7},
}
"""How each diagnosis was confirmed, per class, roughly as in HAM10000."""

MEAN_AGE: dict[str, float] = {"akiec": 67, "bcc": 66, "bkl": 64, "df": 53, "mel": 61, "nv": 47,
                              "vasc": 52}
"""Mean patient age (years) per class, roughly as in HAM10000."""

LESION_AREA = (0.05, 0.6)
"""Range of the lesion's share of the image area (log-uniform, the same for every class)."""


def _lesion_classes(rng: np.random.Generator, n_lesions: int) -> list[str]:
    """Draw ``n_lesions`` classes with HAM10000's shares, shuffled; when ``n_lesions`` >= 50 every
    class gets at least ``MIN_LESIONS_PER_CLASS`` lesions (the rest are drawn by share)."""
    guaranteed = ([dx for dx in CLASSES for _ in range(MIN_LESIONS_PER_CLASS)]
                  if n_lesions >= MIN_LESIONS_FOR_GUARANTEE else [])
    shares = np.array([CLASS_FREQUENCIES[dx] for dx in CLASSES])
    drawn = rng.choice(len(CLASSES), size=n_lesions - len(guaranteed), p=shares / shares.sum())
    classes = guaranteed + [CLASSES[i] for i in drawn]
    return [classes[i] for i in rng.permutation(len(classes))]


def _lesion_centre(rng: np.random.Generator, height: int, width: int,
                   radius: float) -> tuple[float, float]:
    """Lesion centre (x, y) in pixels: near the image centre, or on ~15 % of lesions close to a
    border so that the lesion crosses it."""
    if rng.random() < 0.15:
        side = int(rng.integers(4))
        along = (rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height)
        return [(radius * 0.4, along[1]), (width - radius * 0.4, along[1]),
                (along[0], radius * 0.4), (along[0], height - radius * 0.4)][side]
    return (float(np.clip(rng.normal(width / 2, 0.1 * width), 0.2 * width, 0.8 * width)),
            float(np.clip(rng.normal(height / 2, 0.1 * height), 0.2 * height, 0.8 * height)))


def _lesion_metadata(rng: np.random.Generator, dx: str) -> dict[str, object]:
    """Per-lesion metadata in HAM10000 vocabulary: dx_type, age (multiple of 5, years), sex,
    localization."""
    dx_types = DX_TYPES[dx]
    sites = np.array(list(LOCALIZATIONS.values()))
    return {
        "dx_type": str(rng.choice(list(dx_types), p=np.array(list(dx_types.values())))),
        "age": float(5 * np.clip(np.round(rng.normal(MEAN_AGE[dx], 14) / 5), 1, 17)),
        "sex": str(rng.choice(["male", "female"], p=[0.54, 0.46])),
        "localization": str(rng.choice(list(LOCALIZATIONS), p=sites / sites.sum())),
    }


def write_demo_dataset(out_dir: str | os.PathLike, n_lesions: int, seed: int, width: int = 600,
                       height: int = 450, repeat_fraction: float = 0.2) -> pd.DataFrame:
    """Write ``n_lesions`` synthetic lesions to ``out_dir`` in the HAM10000 release layout.

    About ``repeat_fraction`` of the lesions get 2–3 photos under one lesion_id. Images are
    ``width`` × ``height`` RGB JPEGs, masks 0/255 PNGs. Returns the metadata table written to
    ``HAM10000_metadata.csv``; the same ``seed`` gives byte-identical files.
    """
    if n_lesions < 1:
        raise ValueError(f"n_lesions must be positive, got {n_lesions}")
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    scale = width / REFERENCE_WIDTH
    rows: list[dict[str, object]] = []
    for number, dx in enumerate(_lesion_classes(rng, n_lesions)):
        area = np.exp(rng.uniform(*np.log(LESION_AREA))) * width * height
        radius = float(np.sqrt(area / np.pi))
        lesion = draw_lesion(rng, dx, radius, scale)
        centre, tone = _lesion_centre(rng, height, width, radius), skin_tone(rng)
        meta = {"lesion_id": f"HAM_{number:07d}", "dx": dx, **_lesion_metadata(rng, dx)}
        for _ in range(int(rng.integers(2, 4)) if rng.random() < repeat_fraction else 1):
            image_id = f"ISIC_{FIRST_IMAGE_NUMBER + len(rows):07d}"
            image, mask = photograph(rng, lesion, tone, height, width, centre)
            write_image(image, out / IMAGE_DIR / f"{image_id}.jpg")
            write_mask(mask, out / MASK_DIR / f"{image_id}_segmentation.png")
            rows.append({**meta, "image_id": image_id})
    table = pd.DataFrame(rows)[METADATA_COLUMNS]
    write_csv(table, out / "HAM10000_metadata.csv")
    log.info("wrote %d demo images (%dx%d) of %d lesions to %s; images per class %s", len(table),
             width, height, n_lesions, out, table.dx.value_counts().to_dict())
    return table


def main(argv: list[str] | None = None) -> None:
    """CLI: ``python -m xaicut.demo_data OUT_DIR --n-lesions N --seed S [--width W --height H]``."""
    parser = argparse.ArgumentParser(
        description="Write the seeded synthetic HAM10000-layout demo dataset.")
    parser.add_argument("out_dir", type=Path, help="output folder (HAM10000 release layout)")
    parser.add_argument("--n-lesions", type=int, required=True, help="number of distinct lesions")
    parser.add_argument("--seed", type=int, required=True,
                        help="random seed (same seed, same bytes)")
    parser.add_argument("--width", type=int, default=600, help="image width in pixels")
    parser.add_argument("--height", type=int, default=450, help="image height in pixels")
    parser.add_argument("--repeat-fraction", type=float, default=0.2,
                        help="share of lesions photographed 2-3 times")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    write_demo_dataset(args.out_dir, args.n_lesions, args.seed, args.width, args.height,
                       args.repeat_fraction)


if __name__ == "__main__":
    main()
