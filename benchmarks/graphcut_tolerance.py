"""Effect of the graph cut's stopping tolerance on every image of a HAM10000-layout set.

The graph cut stops when a cut changes fewer than ``segment.tolerance`` of the pixels
(``xaicut.graphcut``). This script segments every image of the set with each tolerance, from the
two kinds of seed the pipeline's stages feed it, and compares the masks image by image with
those of the first tolerance (paired)::

    .venv/bin/python benchmarks/graphcut_tolerance.py [--dev-dir DIR] [--tolerances 0.001,0.005]
        [--n N] [--workers 2] [--seed 0]

Seed kinds: ``student`` (the exported stage's seed, ``xaicut.student.student_seed``, on a
simulated student probability: the ground truth area-pooled to ``PROBABILITY_GRID`` squared
cells plus Gaussian noise, bilinear-upsampled; certain lesion and skin are hard constraints) and
``otsu`` (the image prior's soft seed: the Otsu lesion, as stage ``graphcut_otsu``). Every other
graph-cut parameter is the default (``xaicut.graphcut.GraphCutParams``); seeds from
``config.yaml``'s defaults (``xaicut.seeds.SeedParams``).

stdout: one line per seed kind and tolerance (mean Dice with its 95 % bootstrap interval, the
paired mean difference to the first tolerance with its interval, images better / worse, mean
Dice between the masks of the two tolerances, mean cuts, median seconds per image), then, as the
LAST line, one JSON object ``{"<kind>/<tolerance>": {...}}``. Seconds are measured with
``--workers`` processes side by side; ``benchmarks/graphcut_vs_grabcut.py`` is the speed figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's xaicut; the script's own folder holds its siblings

from graphcut_vs_grabcut import DEV_DIR, IMAGE_DIR, MASK_DIR, NOISE_SIGMA  # noqa: E402
from xaicut.graphcut import GraphCutParams, graph_cut_refine  # noqa: E402
from xaicut.io import read_mask, read_rgb  # noqa: E402
from xaicut.metrics import bootstrap_interval, mask_metrics  # noqa: E402
from xaicut.seeds import (  # noqa: E402
    DEFAULT_SEED_PARAMS,
    ImageEvidence,
    Seed,
    simulated_map,
    soft_seed,
)
from xaicut.student import student_seed  # noqa: E402

PROBABILITY_GRID = 32
"""Cells per side of the simulated student probability (a U-Net at 128 px is about this coarse)."""


def seeds_of(image: np.ndarray, truth: np.ndarray, image_id: str, seed: int) -> dict[str, Seed]:
    """The ``student`` and ``otsu`` seeds of one image (module docstring)."""
    rng = np.random.default_rng([seed, zlib.crc32(image_id.encode())])
    probability = simulated_map(truth, PROBABILITY_GRID, NOISE_SIGMA, rng)
    otsu = soft_seed(ImageEvidence(image, DEFAULT_SEED_PARAMS).lesion, "ok")
    return {"student": student_seed(probability, image, DEFAULT_SEED_PARAMS), "otsu": otsu}


def segment_image(task: tuple[Path, Path, list[float], int]) -> list[dict]:
    """Rows (kind, tolerance, Dice, cuts, seconds, mask agreement) of one image."""
    image_path, mask_path, tolerances, seed = task
    image, truth = read_rgb(image_path), read_mask(mask_path)
    rows = []
    for kind, s in seeds_of(image, truth, image_path.stem, seed).items():
        reference = None
        for tolerance in tolerances:
            params = GraphCutParams(tolerance=tolerance)
            start = time.perf_counter()
            result = graph_cut_refine(image, s.initial, params, s.certain_fg, s.certain_bg)
            seconds = time.perf_counter() - start
            reference = result.mask if reference is None else reference
            rows.append({"image_id": image_path.stem, "kind": kind, "tolerance": tolerance,
                         "dice": mask_metrics(result.mask, truth)["dice"],
                         "cuts": result.iterations, "seconds": seconds,
                         "agreement": mask_metrics(result.mask, reference)["dice"]})
    return rows


def summarise(rows: pd.DataFrame, first: float) -> dict[str, dict]:
    """Per kind and tolerance: Dice, paired difference to ``first``, agreement, cuts, seconds."""
    summary = {}
    for (kind, tolerance), group in rows.groupby(["kind", "tolerance"], sort=False):
        dice = group.set_index("image_id").dice
        reference = rows[(rows.kind == kind) & (rows.tolerance == first)].set_index("image_id")
        difference = (dice - reference.dice.loc[dice.index]).to_numpy()
        low, high = bootstrap_interval(dice.to_numpy())
        diff_low, diff_high = bootstrap_interval(difference)
        summary[f"{kind}/{tolerance:g}"] = {
            "n": len(group), "dice": dice.mean(), "dice_low": low, "dice_high": high,
            "diff": difference.mean(), "diff_low": diff_low, "diff_high": diff_high,
            "better": int((difference > 0).sum()), "worse": int((difference < 0).sum()),
            "agreement": group.agreement.mean(), "cuts": group.cuts.mean(),
            "seconds_median": group.seconds.median(),
        }
    return summary


def main(argv: list[str] | None = None) -> None:
    """Segment the set with every tolerance; print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev-dir", type=Path, default=DEV_DIR, help="HAM10000-layout set")
    parser.add_argument("--tolerances", default="0.001,0.005",
                        help="comma-separated; the first is the reference")
    parser.add_argument("--n", type=int, default=0, help="first N images only (0 = all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated probability")
    args = parser.parse_args(argv)
    tolerances = [float(t) for t in args.tolerances.split(",")]
    images = sorted((args.dev_dir / IMAGE_DIR).glob("*.jpg"))[: args.n or None]
    tasks = [(p, args.dev_dir / MASK_DIR / f"{p.stem}_segmentation.png", tolerances, args.seed)
             for p in images]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = [row for image_rows in tqdm(pool.map(segment_image, tasks, chunksize=8),
                                           total=len(tasks), file=sys.stderr, unit="img")
                for row in image_rows]
    summary = summarise(pd.DataFrame(rows), tolerances[0])
    table = pd.DataFrame.from_dict(summary, orient="index")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(float_format=lambda x: f"{x:.4f}"))
    rounded = {key: {name: round(float(value), 4) for name, value in entry.items()}
               for key, entry in summary.items()}
    print(json.dumps(rounded))


if __name__ == "__main__":
    main()
