"""Score an exported segmentations folder against ground-truth masks kept elsewhere, and check
how well the label-free confidence flags the failures.

The run that made the folder read no mask (a mask-free collection); this script brings the
masks in afterwards:

    .venv/bin/python benchmarks/score_segmentations.py MASKS_DIR RUN_DIR [--failure 0.7]

``MASKS_DIR`` holds ``<image_id>_segmentation.png`` (e.g. a HAM10000
``HAM10000_segmentations_lesion_tschandl`` folder); ``RUN_DIR`` is ``results/runs/<run>`` with
``segmentations/`` and ``segmentations.csv``. Prints mean Dice per split and overall with 95 %
bootstrap intervals, then, per split, the confidence's Spearman rank correlation with Dice and
the failure rate (Dice < ``--failure``) among the least confident tenth against the base rate.
The last line is one JSON object with the same figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xaicut.metrics import bootstrap_interval, score_segmentations  # noqa: E402

LEAST_CONFIDENT = 0.1


def confidence_check(scored: pd.DataFrame, failure: float) -> dict[str, float]:
    """Spearman ρ of confidence against Dice; failure rate of the least confident tenth and of
    all images (Dice < ``failure``)."""
    n_low = max(1, int(round(LEAST_CONFIDENT * len(scored))))
    low = scored.nsmallest(n_low, "confidence")
    return {"spearman_rho": float(spearmanr(scored.confidence, scored.dice).statistic),
            "n_least_confident": n_low,
            "failure_rate_least_confident": float((low.dice < failure).mean()),
            "failure_rate_all": float((scored.dice < failure).mean())}


def summarise_split(scored: pd.DataFrame, failure: float) -> dict[str, float]:
    """Mean Dice with its bootstrap interval, n, and the confidence check of one split."""
    low, high = bootstrap_interval(scored.dice.to_numpy())
    return {"n_images": len(scored), "dice_mean": float(scored.dice.mean()), "dice_ci_low": low,
            "dice_ci_high": high, **confidence_check(scored, failure)}


def score_run(masks_dir: Path, run_dir: Path, failure: float) -> dict[str, dict[str, float]]:
    """Per split and ``all``: the figures of :func:`summarise_split`."""
    table = pd.read_csv(run_dir / "segmentations.csv")
    truth = {p.name.removesuffix("_segmentation.png"): p
             for p in masks_dir.glob("*_segmentation.png")}
    scored = score_segmentations(table, pd.Series(truth, dtype=object),
                                 run_dir / "segmentations")
    scored = scored.merge(table[["image_id", "confidence"]], on="image_id")
    splits = {split: rows for split, rows in scored.groupby("split", sort=False)}
    return {**{s: summarise_split(rows, failure) for s, rows in splits.items()},
            "all": summarise_split(scored, failure)}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("masks_dir", type=Path)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--failure", type=float, default=0.7, help="Dice below this is a failure")
    args = parser.parse_args(argv)
    result = score_run(args.masks_dir, args.run_dir, args.failure)
    print("| split | n | mean Dice (95 % CI) | Spearman ρ | failures in least confident 10 % "
          "| base rate |")
    print("|---|---|---|---|---|---|")
    for split, r in result.items():
        print(f"| {split} | {r['n_images']} | {r['dice_mean']:.3f} ({r['dice_ci_low']:.3f}-"
              f"{r['dice_ci_high']:.3f}) | {r['spearman_rho']:.3f} | "
              f"{r['failure_rate_least_confident']:.2f} | {r['failure_rate_all']:.2f} |")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
