"""Score seed and graph-cut settings of the default seed mode on one split of a finished run.

Reruns ``segment`` (first seed mode only, so stage ``graphcut``) on the split's attribution maps
with each setting and scores the masks against ground truth kept outside the run; every setting
is also compared image by image with the first one (paired bootstrap interval of the difference).
Choose on the validation split; the test split is for reading a choice once.

    .venv/bin/python benchmarks/seed_settings.py RESULTS_DIR VARIANT MASKS_DIR --config CONFIG \\
        [--split val] [--settings '{"margin 0.1": {"seeding": {"consensus_margin": 0.1}}}']

``RESULTS_DIR``: the run's results folder (``data/manifest.csv``, ``attribution/VARIANT/``);
``MASKS_DIR``: ``<image_id>_segmentation.png`` files; ``CONFIG``: the config the run used (its
``seeding``, ``segment``, ``attribute.methods`` and ``seed``). ``--settings``: name → changes to the
``seeding`` and ``segment`` sections; a ``baseline`` with no change always comes first. Prints one
line per setting; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xaicut.config import load_config  # noqa: E402
from xaicut.graphcut import GraphCutParams  # noqa: E402
from xaicut.io import read_mask  # noqa: E402
from xaicut.metrics import bootstrap_interval, mask_metrics  # noqa: E402
from xaicut.seeds import SeedParams  # noqa: E402
from xaicut.segment import segment_shard  # noqa: E402
from xaicut.shards import segment_stage_modes  # noqa: E402


def setting_dice(manifest: pd.DataFrame, shards: list[Path], masks_dir: Path, config: dict,
                 changes: dict) -> pd.Series:
    """Dice per image id of the first seed mode's graph cut with ``changes`` applied."""
    seeding = {**config["seeding"], **changes.get("seeding", {})}
    seeding.pop("modes")
    segment = {**config["segment"], **changes.get("segment", {})}
    dice = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = {"graphcut": Path(tmp) / "graphcut"}
        for shard in shards:
            segment_shard(manifest, shard, config["attribute"]["methods"],
                          segment_stage_modes(config["seeding"]["modes"][:1]), out,
                          SeedParams(**seeding),
                          GraphCutParams(**segment, seed=config["seed"]))
        for path in sorted(out["graphcut"].glob("*.png")):
            truth = read_mask(masks_dir / f"{path.stem}_segmentation.png")
            dice[path.stem] = mask_metrics(read_mask(path), truth)["dice"]
    return pd.Series(dice)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("variant")
    parser.add_argument("masks", type=Path)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--settings", default="{}")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    manifest = pd.read_csv(args.results / "data" / "manifest.csv")
    shards = sorted(p for p in (args.results / "attribution" / args.variant).iterdir()
                    if p.name.rstrip("0123456789") == args.split)
    settings = {"baseline": {}, **json.loads(args.settings)}
    scores = {name: setting_dice(manifest, shards, args.masks, config, changes)
              for name, changes in settings.items()}
    baseline = scores["baseline"]
    figures = {}
    for name, dice in scores.items():
        difference = (dice - baseline).to_numpy()
        low, high = bootstrap_interval(difference)
        figures[name] = {"n_images": len(dice), "dice_mean": float(dice.mean()),
                         "failure_rate": float((dice < 0.7).mean()),
                         "paired_difference": float(difference.mean()),
                         "paired_ci_low": low, "paired_ci_high": high,
                         "better": int((difference > 0.01).sum()),
                         "worse": int((difference < -0.01).sum())}
        f = figures[name]
        print(f"{name:30s} n {f['n_images']} Dice {f['dice_mean']:.4f} "
              f"paired {f['paired_difference']:+.4f} ({low:+.4f} to {high:+.4f}) "
              f"better/worse {f['better']}/{f['worse']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
