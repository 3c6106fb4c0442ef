"""Map-quality levers of a trained classifier: how well does each explainer/layer localise lesions?

For one classifier of a finished run (``<results>/data/manifest.csv``, ``<results>/train/<variant>/
model.pt``) and a list of CAM options (``method:layer[+layer...][:smooth]``, ``smooth`` = grad-cam's
``aug_smooth``), every validation and test image is explained (target: its diagnosis label), the
map binarised at per-image Otsu and at absolute cuts 0.1-0.5, optionally reduced to its central
region (``fuse.region: central``), and scored with Dice against the lesion mask. The cut is chosen
on the validation split (best mean Dice) and the test Dice reported at that cut, as
``fuse.threshold_method: auto`` does. Two references need no model: the all-lesion mask and a
centred ellipse (inscribed-ellipse radius < 0.7), i.e. what a map that knows only that lesions
sit in the middle would score. ``--random-init`` explains an untrained network of the same
architecture instead: how much of a map's quality comes from training.

Usage (docs/attribution-quality.md):
    .venv/bin/python benchmarks/attribution_levers.py results-dev plain \
        gradcam:layer3 gradcampp:layer3 eigencam:layer3 eigencam_signed:layer1+layer2

Prints one markdown table row per option; the last line is one JSON object
``{option: {"val_cut", "val_dice", "test_dice", "test_dice_raw"}}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xaicut.attribution import CamExplainer  # noqa: E402
from xaicut.fuse import binarise_map, central_region  # noqa: E402
from xaicut.io import read_mask  # noqa: E402
from xaicut.masks import normalised_radius  # noqa: E402
from xaicut.metrics import mask_metrics  # noqa: E402
from xaicut.model import build_resnet, load_checkpoint  # noqa: E402
from xaicut.preprocess import load_image_tensor  # noqa: E402

CUTS = ("otsu", 0.1, 0.2, 0.3, 0.4, 0.5)
BATCH_SIZE = 16
SPLITS = ("val", "test")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="results folder of a finished run")
    parser.add_argument("variant", help="classifier variant (train/<variant>/model.pt)")
    parser.add_argument("options", nargs="+", help="method:layer[+layer...][:smooth]")
    parser.add_argument("--random-init", action="store_true", help="explain an untrained network")
    parser.add_argument("--min-area-fraction", type=float, default=0.01)
    return parser.parse_args(argv)


def load_model(results: Path, variant: str,
               random_init: bool) -> tuple[torch.nn.Module, int, float | None]:
    """The run's classifier in eval mode, its input size (px) and colour constancy (the images
    as it sees them); with ``random_init`` an untrained ResNet18 in its place, explained alike."""
    model, meta = load_checkpoint(results / "train" / variant / "model.pt", "cpu")
    if random_init:
        torch.manual_seed(0)
        model = build_resnet("resnet18").eval()
    return model.requires_grad_(False), int(meta["input_size"]), meta.get("color_constancy")


def dice(mask: np.ndarray, truth: np.ndarray) -> float:
    """Dice of a predicted mask against the lesion mask (``xaicut.metrics``)."""
    return mask_metrics(mask, truth)["dice"]


def reference_dice(truths: list[np.ndarray]) -> dict[str, float]:
    """Mean Dice of the all-lesion mask and of the centred ellipse."""
    return {"all_lesion": float(np.mean([dice(np.ones_like(t), t) for t in truths])),
            "centred_ellipse": float(np.mean([dice(normalised_radius(t.shape) < 0.7, t)
                                              for t in truths]))}


def cut_dice(maps: list[np.ndarray], truths: list[np.ndarray], cut: str | float,
             min_area_fraction: float | None) -> float:
    """Mean Dice of ``maps`` binarised at ``cut`` (central region when ``min_area_fraction``)."""
    scores = []
    for values, truth in zip(maps, truths):
        mask = (binarise_map(values, "otsu") if cut == "otsu"
                else binarise_map(values, "absolute", threshold=cut))
        if min_area_fraction is not None:
            mask = central_region(mask, min_area_fraction)
        scores.append(dice(mask, truth))
    return float(np.mean(scores))


def explain_split(explainer: CamExplainer, batch: torch.Tensor, labels: np.ndarray,
                  truths: list[np.ndarray]) -> list[np.ndarray]:
    """Maps of ``batch`` for ``labels``, resized (bilinear) to each mask's size."""
    maps = np.concatenate([explainer.explain(batch[i:i + BATCH_SIZE], labels[i:i + BATCH_SIZE])
                           for i in range(0, len(batch), BATCH_SIZE)])
    return [cv2.resize(m, (t.shape[1], t.shape[0]), interpolation=cv2.INTER_LINEAR)
            for m, t in zip(maps, truths)]


def evaluate_option(option: str, model: torch.nn.Module, data: dict, min_area: float) -> dict:
    """Validation-chosen cut and its test Dice (central region and raw) for one option."""
    method, layers, *smooth = option.split(":")
    explainer = CamExplainer(method, model, layers.split("+"), BATCH_SIZE,
                             aug_smooth=smooth == ["smooth"])
    maps = {split: explain_split(explainer, *data[split]) for split in SPLITS}
    val = {cut: cut_dice(maps["val"], data["val"][2], cut, min_area) for cut in CUTS}
    best = max(val, key=val.get)
    return {"val_cut": best, "val_dice": val[best],
            "test_dice": cut_dice(maps["test"], data["test"][2], best, min_area),
            "test_dice_raw": cut_dice(maps["test"], data["test"][2], best, None)}


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    torch.set_num_threads(2)
    model, size, color_constancy = load_model(args.results, args.variant, args.random_init)
    manifest = pd.read_csv(args.results / "data" / "manifest.csv")
    data = {}
    for split in SPLITS:
        rows = manifest[manifest.split == split]
        batch = torch.stack([load_image_tensor(p, size, color_constancy) for p in rows.image_path])
        data[split] = (batch, rows.label.to_numpy(), [read_mask(p) for p in rows.mask_path])
    summary: dict[str, object] = {"references_test": reference_dice(data["test"][2])}
    print("| option | cut (val) | val Dice | test Dice | test Dice without central region |")
    print("|---|---|---|---|---|")
    for option in args.options:
        result = evaluate_option(option, model, data, args.min_area_fraction)
        summary[option] = result
        print(f"| {option} | {result['val_cut']} | {result['val_dice']:.3f} | "
              f"{result['test_dice']:.3f} | {result['test_dice_raw']:.3f} |", flush=True)
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
