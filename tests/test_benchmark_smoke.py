"""Smoke tests of the benchmarks: graphcut_vs_grabcut.py on two full-resolution sample images,
attribution_levers.py's scoring on synthetic maps."""

from __future__ import annotations

import importlib
import json

import numpy as np

from conftest import REPO

HEADLINE_KEYS = {
    "speedup_median", "dice_ours", "dice_grabcut", "peak_mb_ours", "peak_mb_grabcut",
    "seconds_ours", "seconds_grabcut", "jaccard_ours", "jaccard_grabcut", "n_images",
    "grabcut_failures",
}


def test_benchmark_functions_give_the_documented_json(monkeypatch, tmp_path):
    # The memory workers are spawned processes: they import the script by name from sys.path.
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    bench = importlib.import_module("graphcut_vs_grabcut")
    samples = bench.load_image_set("full", bench.parse_args([]), tmp_path)[:2]
    bench.add_simulated_seeds(samples, seed=0, grids=(7,))
    rows = bench.benchmark_timing(samples, "full")
    memory = bench.measure_peak_memory(samples[:1])

    summary = json.loads(json.dumps(bench.rounded(bench.summarise(rows, {"full": memory}))))

    assert set(summary) == {"full", "full/7x7"}
    assert HEADLINE_KEYS <= set(summary["full"])
    assert summary["full"]["n_images"] == 2
    assert summary["full"]["seconds_ours"] > 0 and summary["full"]["speedup_median"] > 0
    assert 0 < summary["full"]["base_mb_ours"] <= summary["full"]["peak_mb_ours"]
    assert 0.5 < summary["full"]["dice_ours"] <= 1
    assert "full/7x7" in bench.format_tables(summary)


def test_attribution_levers_scores_cuts_regions_and_references(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    levers = importlib.import_module("attribution_levers")
    truth = np.zeros((60, 80), dtype=bool)
    truth[15:45, 20:60] = True
    values = truth * 0.8 + 0.1
    values[0:8, 0:8] = 0.9                        # a stray corner peak outside the lesion
    assert levers.cut_dice([values], [truth], 0.5, min_area_fraction=0.01) == 1.0
    assert levers.cut_dice([values], [truth], 0.5, min_area_fraction=None) < 1.0
    assert levers.cut_dice([values], [truth], "otsu", min_area_fraction=0.01) == 1.0
    refs = levers.reference_dice([truth])
    assert refs["all_lesion"] == 2 * truth.sum() / (truth.size + truth.sum())
    assert refs["all_lesion"] < refs["centred_ellipse"] < 1.0
