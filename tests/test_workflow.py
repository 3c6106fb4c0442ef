"""Integration: the whole Snakefile on a tiny demo config, then incremental-rerun dry runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO
from xaicut.attribution_store import read_attribution
from xaicut.metrics import SUMMARY_COLUMNS

SNAKEMAKE = [sys.executable, "-m", "snakemake", "--cores", "2", "--snakefile", str(REPO / "Snakefile")]
TINY = {
    "data_dir": "demo",
    "demo": {"n_lesions": 50, "width": 120, "height": 90},
    "split": {"val": 0.2, "test": 0.3},
    "augment": {"target_fraction": 0.3, "max_copies_per_image": 2},
    "train": {"input_size": 32, "epochs": 2, "batch_size": 16, "lr": 0.01},
    "attribute": {"shard_size": 8, "shap_nsamples": 4, "shap_background_size": 4},
    "segment": {"working_size": 0, "max_iterations": 3},
}


def write_config(path: Path, results: Path, **sections) -> Path:
    config = {**TINY, **sections, "results_dir": str(results)}
    path.write_text(yaml.safe_dump(config))
    return path


def run(config: Path, *extra: str) -> str:
    proc = subprocess.run([*SNAKEMAKE, "--configfile", str(config), *extra], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def planned_jobs(output: str) -> dict[str, int]:
    """Job counts per rule from a dry run's 'Job stats' table (empty when nothing to do)."""
    if "Nothing to be done" in output:
        return {}
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("workflow")
    config = write_config(tmp / "tiny.yaml", tmp / "results")
    run(config)
    return config, tmp / "results"


@pytest.mark.slow
def test_outputs_follow_contracts(finished_run):
    _, results = finished_run
    manifest = pd.read_csv(results / "data" / "manifest.csv")
    summary = pd.read_csv(results / "metrics" / "summary.csv")
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert list(summary.stage) == ["gradcam", "shap", "fused", "otsu", "graphcut",
                                  "graphcut_trimap_otsu", "graphcut_and"]
    n_test = int((manifest.split == "test").sum())
    assert (summary.n_images == n_test).all()
    per_image = pd.read_csv(results / "metrics" / "per_image.csv")
    assert per_image[["dice", "jaccard"]].apply(lambda c: c.between(0, 1)).all().all()
    maps = sorted((results / "attribution").glob("shard*/*.h5"))
    assert len(maps) == 2 * n_test
    assert read_attribution(maps[0]).checkpoint_sha256
    status = pd.concat(pd.read_csv(p) for p in (results / "segment").glob("shard*.csv"))
    assert len(status) == 3 * n_test                 # one row per image and seed mode
    assert set(status.stage) == {"graphcut", "graphcut_trimap_otsu", "graphcut_and"}
    html = (results / "report" / "report.html").read_text()
    assert "graphcut" in html and "data:image/png;base64" in html


@pytest.mark.slow
def test_nothing_reruns_when_nothing_changed(finished_run):
    config, _ = finished_run
    assert planned_jobs(run(config, "--dry-run")) == {}


@pytest.mark.slow
def test_graph_cut_parameter_reruns_only_segment_and_after(finished_run, tmp_path):
    config, results = finished_run
    changed = write_config(tmp_path / "changed.yaml", results,
                           segment={**TINY["segment"], "pairwise_weight": 10.0})
    jobs = planned_jobs(run(changed, "--dry-run"))
    n_shards = len(list((results / "segment").glob("shard*.csv")))
    assert jobs == {"segment": n_shards, "evaluate": 1, "report": 1, "all": 1}


@pytest.mark.slow
def test_fuse_threshold_reruns_fuse_and_scoring_only(finished_run, tmp_path):
    config, results = finished_run
    changed = write_config(tmp_path / "changed.yaml", results,
                           fuse={"threshold_method": "quantile", "quantile": 0.6})
    jobs = planned_jobs(run(changed, "--dry-run"))
    assert set(jobs) == {"fuse", "evaluate", "report", "all"}   # seeds come from the maps


@pytest.mark.slow
def test_snakemake_report_packages_registered_outputs(finished_run, tmp_path):
    config, _ = finished_run
    run(config, "--report", str(tmp_path / "report.zip"))
    import zipfile

    names = zipfile.ZipFile(tmp_path / "report.zip").namelist()
    for expected in ("summary.csv", "classification_report.csv", "report.html"):
        assert any(n.endswith(expected) for n in names), names
