"""Seconds per image of rule ``segment`` computing only the asked graph-cut stages, against every
seed mode, on demo-style images (``docs/performance.md``).

    python benchmarks/segment_asked.py [--n-lesions 8] [--width 600] [--height 450] [--seed 0]
        [--config config.yaml]

Writes demo images (``xaicut.demo_data``) and gives each two coarse simulated attribution maps
of its ground-truth mask (7×7 and 14×14 grids, noise 0.15: ``xaicut.seeds.simulated_map``), then
segments every image with the config's ``seeding`` and ``segment`` settings three ways, in one
process and one OpenCV thread, the order rotating from image to image so that a load change on
the machine hits each way alike:

* ``asked``: the stages of ``xaicut.settings.asked_segment_stages`` (the shipped config:
  ``graphcut`` alone), what rule ``segment`` computes on a run that scores nothing;
* ``all``: every seed mode, the image evidence computed once per image (a scored shard's
  ``segment`` and ``segment_scored`` together);
* ``all_per_mode``: every seed mode, the image evidence computed again for every mode (one
  ``segment_images`` call per stage), as ``segment`` did before.

Each way's time counts reading the image, the seeds, the graph cuts and writing the masks, as
wall-clock seconds and as this process's CPU seconds (``time.process_time``, less sensitive to
other jobs on a shared machine). The asked stages' masks must be byte-identical in the three
ways (else the script stops).

stdout: one line per way, then, as the LAST line, one JSON object::

    {"n_images", "width", "height", "stages_asked", "stages_all",
     "seconds_per_image": {"asked", "all", "all_per_mode"}, "cpu_seconds_per_image": {...},
     "speedup_asked_vs_all_per_mode", "speedup_all_vs_all_per_mode", "identical_masks"}

``*seconds_per_image`` are means over the images; the speedups are ratios of the wall-clock
means.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xaicut.config import load_config  # noqa: E402
from xaicut.demo_data import IMAGE_DIR, write_demo_dataset  # noqa: E402
from xaicut.graphcut import GraphCutParams  # noqa: E402
from xaicut.ingest import MASK_DIR, MASK_SUFFIX  # noqa: E402
from xaicut.io import read_mask  # noqa: E402
from xaicut.seeds import SeedParams, simulated_map  # noqa: E402
from xaicut.segment import segment_images  # noqa: E402
from xaicut.settings import asked_segment_stages  # noqa: E402
from xaicut.shards import segment_stage_modes  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
GRIDS = {"gradcam": 7, "shap": 14}
"""Simulated attribution methods and their coarse grids."""
NOISE = 0.15
WAYS = ("asked", "all", "all_per_mode")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-lesions", type=int, default=8, help="demo lesions (images >= this)")
    parser.add_argument("--width", type=int, default=600)
    parser.add_argument("--height", type=int, default=450)
    parser.add_argument("--seed", type=int, default=0, help="seed of the demo data and the maps")
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml",
                        help="config whose seeding, segment, export and student settings apply")
    return parser.parse_args(argv)


def demo_images(folder: Path, args: argparse.Namespace) -> tuple[pd.DataFrame, dict]:
    """The demo manifest (``image_id``, ``image_path``) and each image's simulated maps."""
    table = write_demo_dataset(folder, args.n_lesions, args.seed, args.width, args.height)
    rng = np.random.default_rng(args.seed)
    maps = {}
    for image_id in table.image_id:
        truth = read_mask(folder / MASK_DIR / f"{image_id}{MASK_SUFFIX}.png")
        maps[image_id] = {m: simulated_map(truth, grid, NOISE, rng) for m, grid in GRIDS.items()}
    paths = [str(folder / IMAGE_DIR / f"{i}.jpg") for i in table.image_id]
    return pd.DataFrame({"image_id": table.image_id, "image_path": paths}), maps


def segment_way(way: str, stages: dict[str, dict[str, str]], manifest: pd.DataFrame,
                image_id: str, maps: dict, out: Path, seed_params: SeedParams,
                params: GraphCutParams) -> tuple[float, float]:
    """(wall-clock, CPU) seconds to segment one image the way ``way`` (module docstring); masks
    under ``out/way``."""
    calls = ([{s: m} for s, m in stages["all"].items()] if way == "all_per_mode"
             else [stages[way]])
    start, cpu = time.perf_counter(), time.process_time()
    for stage_modes in calls:
        segment_images(manifest, [image_id], lambda _: maps[image_id], stage_modes,
                       {s: out / way / s for s in stage_modes}, seed_params, params)
    return time.perf_counter() - start, time.process_time() - cpu


def same_masks(out: Path, stages: list[str]) -> bool:
    """Whether every way wrote byte-identical masks of ``stages``."""
    for stage in stages:
        files = [sorted((out / way / stage).glob("*.png")) for way in WAYS]
        if any([p.name for p in f] != [p.name for p in files[0]] for f in files):
            return False
        for paths in zip(*files):
            if len({p.read_bytes() for p in paths}) != 1:
                return False
    return True


def run(args: argparse.Namespace, scratch: Path) -> dict:
    """The benchmark's figures (the JSON object of the module docstring)."""
    config = load_config(args.config)
    seeding = {k: v for k, v in config["seeding"].items() if k != "modes"}
    seed_params = SeedParams(**seeding)
    params = GraphCutParams(**config["segment"], seed=config["seed"])
    stages = {"asked": asked_segment_stages(config),
              "all": segment_stage_modes(config["seeding"]["modes"])}
    manifest, maps = demo_images(scratch / "demo", args)
    cv2.setNumThreads(1)
    seconds: dict[str, list[tuple[float, float]]] = {way: [] for way in WAYS}
    for k, image_id in enumerate(manifest.image_id):
        for way in WAYS[k % 3:] + WAYS[:k % 3]:
            seconds[way].append(segment_way(way, stages, manifest, image_id, maps,
                                            scratch / "masks", seed_params, params))
    identical = same_masks(scratch / "masks", list(stages["asked"]))
    if not identical:
        raise SystemExit("the asked stages' masks differ between the ways")
    mean = {way: float(np.mean([wall for wall, _ in s])) for way, s in seconds.items()}
    cpu = {way: round(float(np.mean([c for _, c in s])), 4) for way, s in seconds.items()}
    return {"n_images": len(manifest), "width": args.width, "height": args.height,
            "stages_asked": list(stages["asked"]), "stages_all": list(stages["all"]),
            "seconds_per_image": {w: round(s, 4) for w, s in mean.items()},
            "cpu_seconds_per_image": cpu,
            "speedup_asked_vs_all_per_mode": round(mean["all_per_mode"] / mean["asked"], 2),
            "speedup_all_vs_all_per_mode": round(mean["all_per_mode"] / mean["all"], 2),
            "identical_masks": identical}


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        figures = run(args, Path(scratch))
    for way, value in figures["seconds_per_image"].items():
        print(f"{way:>13}: {value:.3f} s/img, CPU {figures['cpu_seconds_per_image'][way]:.3f} "
              f"s/img ({figures['n_images']} images, {figures['width']}x{figures['height']})")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
