"""Smoke test of benchmarks/graphcut_vs_grabcut.py on two full-resolution sample images."""

from __future__ import annotations

import importlib
import json

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
