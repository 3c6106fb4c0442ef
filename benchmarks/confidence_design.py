"""Design the label-free confidence on one split: which agreement of the pipeline's own masks
ranks the exported masks' true Dice best?

For every image of ``--split`` (the validation split: the design must not see the test split)
in a finished run, the exported mask is compared with the run's other masks of the image
(``runs/<run>/masks/<variant>/<stage>/<shard>/`` and the Otsu baseline's, one per run in
``masks/image_prior/otsu/``) and measured on its image (solidity, colour
separation: ``xaicut.confidence``): each candidate below is a label-free score, and its
Spearman ρ with the image's true Dice (masks from ``MASKS_DIR``) and the failure rate
(Dice < 0.7) of its least confident tenth are printed. The last line is one JSON object
``{candidate: {"spearman_rho", "failure_rate_least_confident", "failure_rate_all"}}``.

    .venv/bin/python benchmarks/confidence_design.py MASKS_DIR RESULTS [--run default] [--split val]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from score_segmentations import confidence_check  # noqa: E402
from xaicut.confidence import colour_separation, segmentation_confidence, solidity  # noqa: E402
from xaicut.io import read_mask, read_rgb  # noqa: E402
from xaicut.layout import Layout  # noqa: E402
from xaicut.metrics import mask_metrics  # noqa: E402
from xaicut.shards import IMAGE_PRIOR, OTSU_STAGE  # noqa: E402


def border_contact(mask: np.ndarray) -> float:
    """Share of the image's outermost pixel ring covered by ``mask`` (bool (H, W)), in [0, 1]."""
    ring = np.concatenate([mask[0], mask[-1], mask[1:-1, 0], mask[1:-1, -1]])
    return float(np.count_nonzero(ring)) / ring.size


def image_features(stage_dirs: dict[str, Path], stage: str, image_id: str,
                   image_path: str) -> dict[str, float]:
    """Agreement of the exported ``stage`` mask with each other stage, its border contact,
    area, solidity and colour separation on its image, and the shipped confidence."""
    mask = read_mask(stage_dirs[stage] / f"{image_id}.png")
    image = read_rgb(image_path)
    others = {s: read_mask(d / f"{image_id}.png") for s, d in stage_dirs.items() if s != stage}
    return {**{f"dice_{s}": mask_metrics(mask, other)["dice"] for s, other in others.items()},
            "border": border_contact(mask), "area": float(mask.mean()), "empty": not mask.any(),
            "solidity": solidity(mask), "separation": colour_separation(image, mask),
            "shipped": segmentation_confidence(mask, image)}


def candidates(features: pd.DataFrame) -> dict[str, pd.Series]:
    """Candidate confidences from the per-image features."""
    agree = features.filter(like="dice_")
    cuts = agree.filter(like="dice_graphcut")
    maps = agree.drop(columns=[*cuts.columns, "dice_otsu"])
    inside = 1.0 - features.border
    found = ~features["empty"]  # (not .empty: a DataFrame attribute)
    raw = {
        "mean agreement, all masks": agree.mean(axis=1),
        "agreement with otsu": agree["dice_otsu"],
        "mean agreement, map masks": maps.mean(axis=1),
        "mean agreement, other graph cuts": cuts.mean(axis=1),
        "min agreement, all masks": agree.min(axis=1),
    }
    scored = {name: values * found for name, values in raw.items()}
    scored |= {f"{name} x (1 - border)": values * inside for name, values in scored.items()}
    scored |= {"solidity": features.solidity, "colour separation": features.separation,
               "solidity x tanh(separation) (shipped)": features.shipped}
    return scored


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("masks_dir", type=Path)
    parser.add_argument("results", type=Path)
    parser.add_argument("--run", default="default")
    parser.add_argument("--split", default="val")
    args = parser.parse_args(argv)
    layout = Layout(args.results, args.run)
    run_dir = layout.run
    table = pd.read_csv(run_dir / "segmentations.csv")
    images = pd.read_csv(args.results / "data" / "manifest.csv", index_col="image_id").image_path
    variant, stage = table.variant.iloc[0], table.stage.iloc[0]
    rows = []
    for shard in sorted((run_dir / "masks" / variant / stage).glob(f"{args.split}[0-9]*")):
        stage_dirs = {d.name: d / shard.name for d in (run_dir / "masks" / variant).iterdir()}
        stage_dirs[OTSU_STAGE] = layout.masks(IMAGE_PRIOR, OTSU_STAGE, shard.name)
        for path in sorted(shard.glob("*.png")):
            truth = args.masks_dir / f"{path.stem}_segmentation.png"
            features = image_features(stage_dirs, stage, path.stem, images[path.stem])
            rows.append({"image_id": path.stem, **features,
                         "dice": mask_metrics(read_mask(path), read_mask(truth))["dice"]})
    features = pd.DataFrame(rows)
    summary = {}
    print(f"{args.split}: {len(features)} images; | candidate | Spearman ρ | failures in least "
          "confident 10 % | base rate |\n|---|---|---|---|")
    for name, values in candidates(features).items():
        check = confidence_check(features.assign(confidence=values), failure=0.7)
        summary[name] = check
        print(f"| {name} | {check['spearman_rho']:.3f} | "
              f"{check['failure_rate_least_confident']:.2f} | {check['failure_rate_all']:.2f} |")
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1:])
