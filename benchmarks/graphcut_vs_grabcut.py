"""Benchmark xaicut's graph-cut stage against OpenCV's GrabCut on the same images and seeds.

Run from the repository root (``docs/performance.md`` has the method and the latest figures)::

    python benchmarks/graphcut_vs_grabcut.py [--sets full,demo,dev] [--n-dev 200] [--n-demo 40]
        [--seed 0] [--results DIR] [--demo-results DIR]

Every method in ``METHODS`` segments every image of a set from every seed kind of that image:
``7x7`` and ``14x14`` (simulated coarse attribution maps, :func:`simulated_seed`) and ``fused``
(the pipeline's fused XAI mask, only for images of a ``--results`` / ``--demo-results`` run).
The methods run one after the other on each image, the order alternating from image to image,
so that a load change on the machine hits both alternately; each call is timed with
``time.perf_counter``, after one untimed warm-up call of each method per set. Peak memory is
measured per set and method in a fresh worker process (:func:`measure_peak_memory`). OpenCV runs
single-threaded (``cv2.setNumThreads(1)``) and our stage limits BLAS/OpenMP to one thread
itself, as one pipeline worker per core would.

stdout: readable tables, then, as the LAST line, one JSON object::

    {"<set>": {"seed_kind": "7x7", "n_images", "seconds_ours", "seconds_grabcut",
               "speedup_median", "dice_ours", "dice_grabcut", "dice_seed", "jaccard_ours",
               "jaccard_grabcut", "jaccard_seed", "ours_failures", "grabcut_failures",
               "peak_mb_ours", "peak_mb_grabcut", "base_mb_ours", "base_mb_grabcut"},
     "<set>/<seed kind>": {the same keys without seed_kind and the *_mb keys}, ...}

``seconds_*`` are medians per image, ``dice_*`` / ``jaccard_*`` means over the images,
``speedup_median = seconds_grabcut / seconds_ours``, ``*_failures`` counts images where a method
gave no segmentation of its own (GrabCut raised; our stage took a fallback status). Adding an
entry to ``METHODS`` adds its ``seconds_/dice_/jaccard_/_failures/peak_mb_`` keys.
Progress bars and logs go to stderr.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import logging
import multiprocessing
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from skimage.filters import threshold_otsu
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
# Benchmark the checkout this script belongs to, not an xaicut installed elsewhere (a script's
# sys.path starts with its own folder, so the repository root is not on it by default).
sys.path.insert(0, str(REPO))

from xaicut.demo_data import IMAGE_DIR, MASK_DIR, write_demo_dataset  # noqa: E402
from xaicut.graphcut import GraphCutParams, graph_cut_refine  # noqa: E402
from xaicut.io import read_mask, read_rgb  # noqa: E402
from xaicut.logs import setup_logging  # noqa: E402
from xaicut.metrics import mask_metrics  # noqa: E402
from xaicut.seeds import simulated_map  # noqa: E402

log = logging.getLogger("benchmark")

FULL_DIR = REPO / "tests" / "data" / "ham10000_sample"
DEV_DIR = REPO.parent / "shared" / "data" / "ham10000_dev_200x150"
SETS = ("full", "demo", "dev")

SEED_GRIDS = (7, 14)
"""Sides of the simulated attribution grids (ResNet at 224 px: layer4 is 7x7, layer3 14x14)."""
NOISE_SIGMA = 0.15
"""Standard deviation of the Gaussian noise added to the area-pooled ground truth."""
HEADLINE_KIND = "7x7"
GRABCUT_ITERATIONS = 5
MEMORY_IMAGES = 5
"""Images (the set's first) segmented by each memory worker; the first call is the warm-up."""

TARGET_SPEEDUP = {"full": 10.0, "demo": 10.0, "dev": 1.0}
"""Issue 20's median speedup targets per set (the dev images are smaller than the working size)."""
MEMORY_LIMIT_MB = 500.0


@dataclass
class Sample:
    """One benchmark image: RGB uint8 pixels, bool ground truth and bool seeds by kind."""

    image_id: str
    image_path: Path
    image: np.ndarray
    truth: np.ndarray
    seeds: dict[str, np.ndarray] = field(default_factory=dict)


def run_ours(image: np.ndarray, seed: np.ndarray) -> tuple[np.ndarray, str]:
    """xaicut's stage with default parameters: ``(mask, status)``, status ``"ok"`` or a fallback."""
    result = graph_cut_refine(image, seed, GraphCutParams())
    return result.mask, result.status


def run_grabcut(image: np.ndarray, seed: np.ndarray) -> tuple[np.ndarray, str]:
    """``cv2.grabCut`` initialised with the seed as probable lesion, the rest probable skin.

    Returns ``(mask, "ok")``, or ``(seed, "failed")`` when OpenCV refuses the seed (it raises
    when the seed has no lesion or no skin pixel). GrabCut's colour models and contrast term do
    not depend on the channel order, so the RGB image is passed as is.
    """
    labels = np.where(seed, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    bgd_model, fgd_model = np.zeros((1, 65)), np.zeros((1, 65))
    try:
        cv2.grabCut(image, labels, None, bgd_model, fgd_model, GRABCUT_ITERATIONS,
                    cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return seed.copy(), "failed"
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD), "ok"


METHODS: dict[str, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, str]]] = {
    "ours": run_ours,
    "grabcut": run_grabcut,
}
"""Segmenters compared, ``name -> f(image, seed) -> (mask, status)``; ``ours`` vs ``grabcut``
gives ``speedup_median``."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(SETS),
                        help=f"comma-separated image sets out of {', '.join(SETS)}")
    parser.add_argument("--n-dev", type=int, default=200, help="seeded subset size of the dev set")
    parser.add_argument("--n-demo", type=int, default=40, help="number of demo images")
    parser.add_argument("--seed", type=int, default=0, help="seed of subsets, demo data and noise")
    parser.add_argument("--results", type=Path, action="append", default=[],
                        help="pipeline results dir whose fused masks become 'fused' seeds "
                             "(repeatable)")
    parser.add_argument("--demo-results", type=Path,
                        help="pipeline results dir of a demo run: its test images with fused masks "
                             "form the demo set instead of freshly generated demo images")
    parser.add_argument("--dev-dir", type=Path, default=DEV_DIR, help="HAM10000-layout dev set")
    args = parser.parse_args(argv)
    args.sets = [name.strip() for name in args.sets.split(",") if name.strip()]
    unknown = set(args.sets) - set(SETS)
    if unknown:
        parser.error(f"unknown set(s) {sorted(unknown)}; choose from {SETS}")
    missing = [str(d) for d in args.results if not has_manifest(d)]
    if missing:
        parser.error(f"--results without data/manifest.csv: {', '.join(missing)}")
    if args.demo_results is not None and has_manifest(args.demo_results):
        args.results.append(args.demo_results)
    return args


def has_manifest(results_dir: Path) -> bool:
    """True when ``results_dir`` holds a pipeline manifest (``data/manifest.csv``)."""
    return (results_dir / "data" / "manifest.csv").is_file()


def read_sample(image_id: str, image_path: Path, mask_path: Path) -> Sample:
    """Read one image (RGB uint8) and its ground-truth mask (bool)."""
    return Sample(image_id, image_path, read_rgb(image_path), read_mask(mask_path))


def seeded_subset(items: Sequence, n: int, seed: int) -> list:
    """``n`` items drawn without replacement with ``numpy.random.default_rng(seed)``, in input
    order (all items when there are at most ``n``)."""
    if len(items) <= n:
        return list(items)
    chosen = np.random.default_rng(seed).choice(len(items), size=n, replace=False)
    return [items[i] for i in sorted(chosen)]


def read_release(data_dir: Path, n: int | None = None, seed: int = 0) -> list[Sample]:
    """Samples of a HAM10000-layout folder, sorted by id; a seeded subset of ``n`` if given."""
    paths = sorted((data_dir / IMAGE_DIR).glob("*.jpg"))
    if not paths:
        raise FileNotFoundError(f"no images in {data_dir / IMAGE_DIR}")
    if n is not None:
        paths = seeded_subset(paths, n, seed)
    return [read_sample(p.stem, p, data_dir / MASK_DIR / f"{p.stem}_segmentation.png")
            for p in paths]


def fused_mask_paths(results_dir: Path) -> dict[str, Path]:
    """``image_id -> fused mask PNG`` of a pipeline run (``masks/fused/{shard}/{image_id}.png``)."""
    return {p.stem: p for p in sorted((results_dir / "masks" / "fused").glob("*/*.png"))}


def read_manifest(results_dir: Path) -> pd.DataFrame:
    """The run's ``data/manifest.csv`` indexed by image id."""
    return pd.read_csv(results_dir / "data" / "manifest.csv").set_index("image_id")


def read_results_demo(results_dir: Path, n: int, seed: int) -> list[Sample]:
    """Seeded subset of ``n`` images of a pipeline run that have a fused mask (its test images)."""
    manifest, fused = read_manifest(results_dir), fused_mask_paths(results_dir)
    ids = seeded_subset(sorted(set(fused) & set(manifest.index)), n, seed)
    return [read_sample(i, Path(manifest.at[i, "image_path"]), Path(manifest.at[i, "mask_path"]))
            for i in ids]


def load_image_set(name: str, args: argparse.Namespace, scratch: Path) -> list[Sample]:
    """Samples of set ``full``, ``demo`` or ``dev`` (without seeds); ``scratch`` holds demo data."""
    if name == "full":
        return read_release(FULL_DIR)
    if name == "dev":
        return read_release(args.dev_dir, args.n_dev, args.seed)
    if args.demo_results is not None and has_manifest(args.demo_results):
        log.info("demo: images of the pipeline run %s", args.demo_results)
        return read_results_demo(args.demo_results, args.n_demo, args.seed)
    if args.demo_results is not None:
        log.warning("demo: no manifest in %s, generating demo images", args.demo_results)
    write_demo_dataset(scratch / "demo", n_lesions=args.n_demo, seed=args.seed)
    return read_release(scratch / "demo")[: args.n_demo]


def simulated_seed(truth: np.ndarray, grid: int, rng: np.random.Generator) -> np.ndarray:
    """A coarse attribution-like seed: ground truth area-pooled to ``grid`` x ``grid``, plus
    Gaussian noise (sigma ``NOISE_SIGMA``), bilinear-upsampled to the image size, clipped to
    [0, 1] and binarised by Otsu's threshold. Returns bool, shape of ``truth``."""
    heatmap = simulated_map(truth, grid, NOISE_SIGMA, rng)
    return heatmap > threshold_otsu(heatmap)


def noise_rng(seed: int, image_id: str, grid: int) -> np.random.Generator:
    """Noise generator of one image and grid, independent of which other images are benchmarked."""
    return np.random.default_rng([seed, zlib.crc32(image_id.encode()), grid])


def add_simulated_seeds(samples: list[Sample], seed: int,
                        grids: Sequence[int] = SEED_GRIDS) -> None:
    """Add a ``"{g}x{g}"`` seed from :func:`simulated_seed` to every sample, for each grid ``g``."""
    for sample in samples:
        for grid in grids:
            rng = noise_rng(seed, sample.image_id, grid)
            sample.seeds[f"{grid}x{grid}"] = simulated_seed(sample.truth, grid, rng)


def add_fused_seeds(samples: list[Sample], results_dirs: Sequence[Path]) -> None:
    """Add a ``"fused"`` seed to every sample that is an image of one of the pipeline runs.

    A run's image counts as the sample when the image ids match and the files are identical
    (demo ids reuse real HAM10000 ids).
    """
    for results_dir in results_dirs:
        manifest, fused = read_manifest(results_dir), fused_mask_paths(results_dir)
        for sample in samples:
            if sample.image_id not in fused or sample.image_id not in manifest.index:
                continue
            run_image = Path(manifest.at[sample.image_id, "image_path"])
            if run_image.exists() and filecmp.cmp(run_image, sample.image_path, shallow=False):
                sample.seeds["fused"] = read_mask(fused[sample.image_id])


def prefixed(metrics: dict[str, float], name: str) -> dict[str, float]:
    """Dice and Jaccard of ``metrics`` as ``dice_{name}``, ``jaccard_{name}``."""
    return {f"dice_{name}": metrics["dice"], f"jaccard_{name}": metrics["jaccard"]}


def benchmark_sample(sample: Sample, kind: str, set_name: str, order: Sequence[str]) -> dict:
    """Time and score every method on one sample and seed kind, running them in ``order``."""
    seed = sample.seeds[kind]
    row = {"set": set_name, "kind": kind, "image_id": sample.image_id,
           **prefixed(mask_metrics(seed, sample.truth), "seed")}
    for name in order:
        start = time.perf_counter()
        mask, status = METHODS[name](sample.image, seed)
        row[f"seconds_{name}"] = time.perf_counter() - start
        row[f"status_{name}"] = status
        row.update(prefixed(mask_metrics(mask, sample.truth), name))
    return row


def benchmark_timing(samples: list[Sample], set_name: str) -> pd.DataFrame:
    """One row per sample and seed kind: seconds, status, Dice and Jaccard of every method.

    The methods run side by side, image by image; their order is reversed on every other image.
    Each method first segments the first sample once, untimed: a process's first call pays
    one-off costs (lazy imports, first allocations) that a pipeline job pays once per shard.
    """
    warm_up = samples[0]
    for method in METHODS.values():
        method(warm_up.image, warm_up.seeds[HEADLINE_KIND])
    rows = []
    for index, sample in enumerate(tqdm(samples, desc=set_name, unit="img", file=sys.stderr)):
        order = list(METHODS) if index % 2 == 0 else list(reversed(METHODS))
        rows += [benchmark_sample(sample, kind, set_name, order) for kind in sample.seeds]
    return pd.DataFrame(rows)


def peak_rss_mb() -> float:
    """Peak resident memory of this process's address space (``VmHWM``), MB.

    ``ru_maxrss`` is not used: Linux carries it over ``exec``, so a worker spawned by a big
    parent would report the parent's peak.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def memory_worker(method: str, inputs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """Run ``method`` on ``inputs`` = [(image, seed)] in this process; returns
    ``(peak MB before the first call, peak MB after the last)``."""
    cv2.setNumThreads(1)
    before = peak_rss_mb()
    for image, seed in inputs:
        METHODS[method](image, seed)
    return before, peak_rss_mb()


def measure_peak_memory(samples: list[Sample], kind: str = HEADLINE_KIND) -> dict[str, float]:
    """Peak RSS of a fresh worker process per method segmenting the first ``MEMORY_IMAGES`` samples.

    The workers of different methods run at the same time, each in its own process. Returns
    ``{"base_mb_{method}": ..., "peak_mb_{method}": ...}``: a worker's peak RSS with the
    interpreter, the imports of this script and the inputs loaded, and after all its calls
    (the first call is the warm-up).
    """
    inputs = [(s.image, s.seeds[kind]) for s in samples[:MEMORY_IMAGES]]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(METHODS), mp_context=context, max_tasks_per_child=1) as pool:
        futures = {name: pool.submit(memory_worker, name, inputs) for name in METHODS}
        peaks = {name: future.result() for name, future in futures.items()}
    memory = {}
    for name, (before, after) in peaks.items():
        memory.update({f"base_mb_{name}": before, f"peak_mb_{name}": after})
    return memory


def summarise_rows(rows: pd.DataFrame) -> dict:
    """Medians of seconds, means of Dice and Jaccard, failure counts and the speedup of ``rows``."""
    entry: dict = {"n_images": len(rows)}
    for name in METHODS:
        entry[f"seconds_{name}"] = float(rows[f"seconds_{name}"].median())
    entry["speedup_median"] = entry["seconds_grabcut"] / entry["seconds_ours"]
    for metric in ("dice", "jaccard"):
        for name in (*METHODS, "seed"):
            entry[f"{metric}_{name}"] = float(rows[f"{metric}_{name}"].mean())
    for name in METHODS:
        entry[f"{name}_failures"] = int((rows[f"status_{name}"] != "ok").sum())
    return entry


def summarise(rows: pd.DataFrame, memory: dict[str, dict]) -> dict[str, dict]:
    """The JSON object of the module docstring from all timing rows and the memory per set."""
    summary: dict[str, dict] = {}
    for set_name, set_rows in rows.groupby("set", sort=False):
        headline = set_rows[set_rows["kind"] == HEADLINE_KIND]
        summary[set_name] = {"seed_kind": HEADLINE_KIND, **summarise_rows(headline),
                             **memory[set_name]}
    for (set_name, kind), kind_rows in rows.groupby(["set", "kind"], sort=False):
        summary[f"{set_name}/{kind}"] = summarise_rows(kind_rows)
    return summary


def format_tables(summary: dict[str, dict]) -> str:
    """Readable tables: timing and quality per set and seed kind, memory and targets per set."""
    per_kind = pd.DataFrame.from_dict({k: v for k, v in summary.items() if "/" in k},
                                      orient="index")
    timing = per_kind[["n_images", "seconds_ours", "seconds_grabcut", "speedup_median",
                       "dice_ours", "dice_grabcut", "dice_seed", "jaccard_ours",
                       "jaccard_grabcut", "ours_failures", "grabcut_failures"]]
    sets = {k: v for k, v in summary.items() if "/" not in k}
    checks = pd.DataFrame.from_dict({
        name: {
            "peak_mb_ours": s["peak_mb_ours"], "peak_mb_grabcut": s["peak_mb_grabcut"],
            "base_mb_ours": s["base_mb_ours"], "base_mb_grabcut": s["base_mb_grabcut"],
            "speedup_target": TARGET_SPEEDUP[name],
            "speedup_met": s["speedup_median"] >= TARGET_SPEEDUP[name],
            "dice>=grabcut": s["dice_ours"] >= s["dice_grabcut"],
            f"peak<{MEMORY_LIMIT_MB:g}MB": s["peak_mb_ours"] < MEMORY_LIMIT_MB,
        } for name, s in sets.items()
    }, orient="index")
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        return (f"Per set and seed kind (seconds: median per image; Dice, Jaccard: mean)\n"
                f"{timing.to_string(float_format=lambda x: f'{x:.3f}')}\n\n"
                f"Per set ({HEADLINE_KIND} seeds): worker peak RSS in MB and the issue's targets\n"
                f"{checks.to_string(float_format=lambda x: f'{x:.1f}')}")


def benchmark_set(name: str, samples: list[Sample], results_dirs: Sequence[Path],
                  seed: int) -> tuple[pd.DataFrame, dict]:
    """Seed, time, score and measure the memory of every method on one image set."""
    add_simulated_seeds(samples, seed)
    add_fused_seeds(samples, results_dirs)
    log.info("%s: %d images, %d with fused seeds", name, len(samples),
             sum("fused" in s.seeds for s in samples))
    return benchmark_timing(samples, name), measure_peak_memory(samples)


def rounded(summary: dict[str, dict], digits: int = 4) -> dict[str, dict]:
    """``summary`` with floats rounded to ``digits`` decimals, for the JSON line."""
    return {key: {k: round(v, digits) if isinstance(v, float) else v for k, v in entry.items()}
            for key, entry in summary.items()}


def main(argv: Sequence[str] | None = None) -> None:
    """Benchmark every requested set; print the tables and the JSON line to stdout."""
    args = parse_args(argv)
    setup_logging(None)
    log.info("xaicut.graphcut from %s", graph_cut_refine.__code__.co_filename)
    cv2.setNumThreads(1)
    all_rows, memory = [], {}
    with tempfile.TemporaryDirectory(prefix="xaicut-bench-") as scratch:
        for name in args.sets:
            samples = load_image_set(name, args, Path(scratch))
            rows, memory[name] = benchmark_set(name, samples, args.results, args.seed)
            all_rows.append(rows)
    summary = summarise(pd.concat(all_rows, ignore_index=True), memory)
    print(format_tables(summary))
    print(json.dumps(rounded(summary)))


if __name__ == "__main__":
    main()
