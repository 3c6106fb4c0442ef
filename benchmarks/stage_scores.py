"""Score a run's mask stages against ground-truth masks kept elsewhere, split by split, each
compared image by image with a reference stage.

The run read no mask (a mask-free collection, or a study of label-free stages); this script
brings the masks in afterwards:

    .venv/bin/python benchmarks/stage_scores.py RESULTS_DIR MASKS_DIR \\
        --stages image_prior/otsu,plain/graphcut,plain/student_graphcut \\
        --reference image_prior/otsu_student

``RESULTS_DIR`` is a results folder (``--run`` names the run, default ``default``) whose
``runs/<run>/masks/<variant>/<stage>/<shard>/`` hold the masks (contracts §6; the stages without
classifier, the Otsu baseline among them, under variant ``image_prior``); ``MASKS_DIR`` holds
``<image_id>_segmentation.png``. Every stage is scored on the images of every split it has masks
of; the reference is compared on the images both have. Prints per stage and split the mean Dice
with its 95 % bootstrap interval and n, and the mean paired difference to the reference with its
interval and the counts of images better / worse by more than 0.01. The last line is one JSON
object with the same figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xaicut.io import read_mask  # noqa: E402
from xaicut.metrics import bootstrap_interval, mask_metrics  # noqa: E402
from xaicut.shards import SPLITS, shard_split  # noqa: E402

MARGIN = 0.01
"""A paired difference beyond this counts an image as better or worse."""


def stage_dice(run_dir: Path, masks_dir: Path, stage: str) -> pd.DataFrame:
    """``image_id, split, dice`` of every mask of ``stage`` (``variant/stage``) that has a
    ground-truth mask in ``masks_dir``."""
    rows = []
    for shard in sorted((run_dir / "masks" / stage).iterdir()):
        for path in sorted(shard.glob("*.png")):
            truth = masks_dir / f"{path.stem}_segmentation.png"
            if truth.is_file():
                dice = mask_metrics(read_mask(path), read_mask(truth))["dice"]
                rows.append((path.stem, shard_split(shard.name), dice))
    return pd.DataFrame(rows, columns=["image_id", "split", "dice"])


def compare(scores: pd.DataFrame, reference: pd.DataFrame) -> dict[str, float]:
    """Mean Dice of ``scores`` with its interval, and its paired difference to ``reference``."""
    low, high = bootstrap_interval(scores.dice.to_numpy())
    paired = scores.merge(reference, on="image_id", suffixes=("", "_ref"))
    difference = (paired.dice - paired.dice_ref).to_numpy()
    diff_low, diff_high = bootstrap_interval(difference) if len(difference) else (0.0, 0.0)
    return {"n_images": len(scores), "dice_mean": float(scores.dice.mean()), "dice_ci_low": low,
            "dice_ci_high": high, "n_paired": len(difference),
            "difference_mean": float(difference.mean()) if len(difference) else 0.0,
            "difference_ci_low": diff_low, "difference_ci_high": diff_high,
            "n_better": int((difference > MARGIN).sum()),
            "n_worse": int((difference < -MARGIN).sum())}


def score_stages(run_dir: Path, masks_dir: Path, stages: list[str],
                 reference: str) -> dict[str, dict[str, dict[str, float]]]:
    """Stage → split (and ``all``) → the figures of :func:`compare`."""
    ref = stage_dice(run_dir, masks_dir, reference)[["image_id", "dice"]]
    result = {}
    for stage in stages:
        scores = stage_dice(run_dir, masks_dir, stage)
        groups = dict(list(scores.groupby("split")))
        by_split = {split: compare(groups[split], ref) for split in SPLITS if split in groups}
        result[stage] = {**by_split, "all": compare(scores, ref)}
    return result


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results_dir", type=Path)
    parser.add_argument("masks_dir", type=Path)
    parser.add_argument("--stages", required=True, help="comma-separated variant/stage folders")
    parser.add_argument("--reference", required=True, help="variant/stage compared with")
    parser.add_argument("--run", default="default")
    args = parser.parse_args(argv)
    result = score_stages(args.results_dir / "runs" / args.run, args.masks_dir,
                          args.stages.split(","), args.reference)
    print(f"| stage | split | n | mean Dice (95 % CI) | vs {args.reference} (95 % CI) | "
          "better / worse |")
    print("|---|---|---|---|---|---|")
    for stage, splits in result.items():
        for split, r in splits.items():
            paired = (f"{r['difference_mean']:+.3f} ({r['difference_ci_low']:+.3f} to "
                      f"{r['difference_ci_high']:+.3f}) | {r['n_better']} / {r['n_worse']}"
                      if r["n_paired"] else "no image in common | –")
            print(f"| {stage} | {split} | {r['n_images']} | {r['dice_mean']:.3f} "
                  f"({r['dice_ci_low']:.3f}-{r['dice_ci_high']:.3f}) | {paired} |")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
