"""Seconds per image per rule of the whole workflow on demo images at 600×450 (docs/performance.md).

Runs Snakemake on the tests' tiny config (.test/config/config.yaml: one classifier, every stage of
the default chain but the student; config.yaml's graph-cut settings) with the demo generator
(xaicut/demo_data.py) at 600×450 px,
in a temporary results folder, then reads the run's ``costs.csv`` (xaicut.costs) and prints one
line per rule: jobs, wall seconds, seconds per image the rule's jobs handled, seconds per image
of the dataset and peak memory. The last line is one JSON object.

    .venv/bin/python benchmarks/pipeline_throughput.py [--lesions 50] [--cores 2] \\
        [--configfile CONFIG] [--keep DIR]

``--lesions``: the demo's ``n_lesions`` (50, the schema's minimum: about 70 images, about 3 min
on two cores); ``--configfile``: a config over the tiny one (e.g. ``config.yaml`` for the demo's
whole chain, longer); ``--keep``: results folder to keep instead of a temporary one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xaicut.costs import rule_costs  # noqa: E402
from xaicut.layout import Layout  # noqa: E402

TINY = REPO / ".test" / "config" / "config.yaml"
DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())
"""config.yaml: its graph-cut settings replace the tiny config's full-resolution test ones."""
WIDTH, HEIGHT = 600, 450


def run_workflow(results: Path, lesions: int, cores: int, configfile: Path | None) -> float:
    """Run the workflow into ``results`` on ``lesions`` demo lesions at 600×450; wall seconds."""
    overlay = results.parent / f"{results.name}_overlay.yaml"
    overlay.write_text(yaml.safe_dump({
        "results_dir": str(results), "segment": DEFAULT["segment"],
        "demo": {"n_lesions": lesions, "width": WIDTH, "height": HEIGHT}}))
    configs = [str(TINY), *([str(configfile)] if configfile else []), str(overlay)]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                    "--cores", str(cores), "--configfile", *configs, "--quiet"],
                   cwd=REPO, check=True)
    return time.perf_counter() - start


def throughput(results: Path, wall: float) -> dict:
    """Per rule of the run's costs.csv, and the totals, as a JSON-ready dict."""
    layout = Layout(results)
    n_images = len(pd.read_csv(layout.manifest()))
    per_rule = rule_costs(pd.read_csv(layout.costs))
    per_rule["seconds_per_dataset_image"] = per_rule["seconds"] / n_images
    rules = {r.rule: {"jobs": int(r.jobs), "seconds": round(r.seconds, 2),
                      "seconds_per_image": round(r.seconds_per_image, 4),
                      "seconds_per_dataset_image": round(r.seconds_per_dataset_image, 4),
                      "max_rss_mb": None if pd.isna(r.max_rss_mb) else round(r.max_rss_mb, 1)}
             for r in per_rule.itertuples()}
    return {"n_images": n_images, "width": WIDTH, "height": HEIGHT, "wall_seconds": round(wall, 1),
            "job_seconds": round(float(per_rule["seconds"].sum()), 1),
            "job_seconds_per_image": round(float(per_rule["seconds"].sum()) / n_images, 3),
            "rules": rules}


def format_table(summary: dict) -> str:
    """One line per rule, most seconds first."""
    lines = [f"{summary['n_images']} images at {WIDTH}x{HEIGHT}: wall {summary['wall_seconds']} s"
             f", job seconds {summary['job_seconds']} ({summary['job_seconds_per_image']} s per "
             "image)", f"{'rule':22} {'jobs':>4} {'s':>8} {'s/img':>8} {'s/ds-img':>9} {'MB':>8}"]
    lines += [f"{name:22} {r['jobs']:4d} {r['seconds']:8.2f} {r['seconds_per_image']:8.4f} "
              f"{r['seconds_per_dataset_image']:9.4f} {r['max_rss_mb'] or float('nan'):8.1f}"
              for name, r in summary["rules"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lesions", type=int, default=50)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--configfile", type=Path)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        results = (args.keep or Path(tmp) / "results").resolve()
        results.parent.mkdir(parents=True, exist_ok=True)
        wall = run_workflow(results, args.lesions, args.cores, args.configfile)
        summary = throughput(results, wall)
    print(format_table(summary))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
