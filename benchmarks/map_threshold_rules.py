"""Which threshold rule turns attribution maps into lesion masks without any pixel label?

For the stored maps of a finished run (``<results>/attribution/<variant>/{val,test}*/``) and the
ground-truth masks kept elsewhere, every map is binarised by each label-free rule (per-image
Otsu, Li, triangle, mean, and fixed cuts 0.1-0.5) and by ``auto``: the validation split's best
cut among 0.0-1.0 by mean Jaccard (what ``fuse.threshold_method: auto`` does with validation
masks). Each mask is reduced to its central region (``fuse.region: central``) and scored with
Dice. Prints one markdown row per method and rule (validation and test mean Dice); the last line
is one JSON object ``{method: {rule: {"val": dice, "test": dice}}}``.

    .venv/bin/python benchmarks/map_threshold_rules.py RESULTS VARIANT MASKS_DIR \
        [--methods eigencam_signed,shap]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xaicut.attribution_store import attribution_path, read_attribution, stored_images  # noqa: E402
from xaicut.fuse import LABEL_FREE_RULES, binarise_map, central_region  # noqa: E402
from xaicut.io import read_mask  # noqa: E402
from xaicut.metrics import mask_metrics  # noqa: E402
from xaicut.threshold_study import THRESHOLDS, jaccard_curve  # noqa: E402

FIXED_CUTS = (0.1, 0.2, 0.3, 0.4, 0.5)
SPLITS = ("val", "test")
MIN_AREA_FRACTION = 0.01


def load_maps(results: Path, variant: str, method: str, masks_dir: Path,
              split: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(map, truth) of every image of ``split`` with a mask in ``masks_dir``."""
    pairs = []
    for shard in sorted((results / "attribution" / variant).glob(f"{split}[0-9]*")):
        for image_id in stored_images(shard, [method]):
            truth = masks_dir / f"{image_id}_segmentation.png"
            if truth.is_file():
                values = read_attribution(attribution_path(shard, image_id, method)).values
                pairs.append((values, read_mask(truth)))
    return pairs


def rule_dice(pairs: list[tuple[np.ndarray, np.ndarray]], rule: str | float) -> float:
    """Mean Dice of the central region of each map binarised by ``rule`` (a ``binarise_map``
    method or an absolute cut)."""
    scores = []
    for values, truth in pairs:
        mask = (binarise_map(values, "absolute", threshold=rule) if isinstance(rule, float)
                else binarise_map(values, rule))
        scores.append(mask_metrics(central_region(mask, MIN_AREA_FRACTION), truth)["dice"])
    return float(np.mean(scores))


def auto_cut(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """The cut among ``THRESHOLDS`` with the highest mean Jaccard (lowest of ties), as the
    threshold study chooses it on the validation split."""
    curves = np.mean([jaccard_curve(values, truth) for values, truth in pairs], axis=0)
    return float(THRESHOLDS[int(np.argmax(curves))])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("variant")
    parser.add_argument("masks_dir", type=Path)
    parser.add_argument("--methods", default="eigencam_signed,shap")
    args = parser.parse_args(argv)
    summary: dict[str, dict] = {}
    print("| method | rule | val Dice | test Dice |\n|---|---|---|---|")
    for method in args.methods.split(","):
        data = {s: load_maps(args.results, args.variant, method, args.masks_dir, s) for s in SPLITS}
        cut = auto_cut(data["val"])
        rules: dict[str, str | float] = {**{r: r for r in LABEL_FREE_RULES},
                                         **{str(c): c for c in FIXED_CUTS}, f"auto ({cut})": cut}
        summary[method] = {}
        for name, rule in rules.items():
            scores = {s: rule_dice(data[s], rule) for s in SPLITS}
            summary[method][name] = scores
            print(f"| {method} | {name} | {scores['val']:.3f} | {scores['test']:.3f} |", flush=True)
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
