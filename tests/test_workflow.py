"""Integration: the whole Snakefile on the tests' tiny config (.test/config/config.yaml, one
classifier variant), then incremental-rerun dry runs and reruns on its results."""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO
from conftest import SNAKEMAKE as BASE_SNAKEMAKE
from xaicut.attribution_store import read_attribution
from xaicut.metrics import METRICS, SUMMARY_COLUMNS
from xaicut.model import file_sha256

RUN = Path("runs") / "default"
SNAKEMAKE = [*BASE_SNAKEMAKE, "--cores", "2"]
TEST_CONFIG = REPO / ".test" / "config" / "config.yaml"
PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
TINY = yaml.safe_load(TEST_CONFIG.read_text())
"""The tests' tiny config (.test/config/config.yaml): sections over config.yaml's."""
VARIANTS = [name for name, train in TINY["variants"].items() if train is not None]
TWO_VARIANTS = {"plain": {"cbam": False}, "cbam": {"cbam": True}}
"""config.yaml's classifier variants: the one test that needs two adds cbam to the finished run."""
SCORING = {"export": 1, "score_segmentations": 1, "evaluate": 1, "costs": 1, "report": 1,
           "all": 1}
"""Jobs after a change of the graph cuts: export and everything that scores or reports."""
MAP_SCORING = {"evaluate": 1, "costs": 1, "report": 1, "all": 1}
"""Jobs after a change of the map masks only: they are scored, not exported."""


def scored_shards(results: Path) -> int:
    """Fuse and segment_scored jobs of the run: the test shards of every variant (map masks and
    the seed modes not exported are scored there)."""
    return len(list((results / RUN / "segment").glob("*/test*.csv")))


def write_config(path: Path, results: Path, **sections) -> Path:
    config = {**TINY, **sections, "results_dir": str(results)}
    # sort_keys=False keeps the variants in order: the first is exported
    path.write_text(yaml.safe_dump(config, sort_keys=False))
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


def executed_jobs(output: str) -> dict[str, int]:
    """Job counts per rule of a real run, from its ``rule x:`` / ``checkpoint x:`` job headers
    (the first 'Job stats' table predates any checkpoint's new jobs)."""
    names = re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", output, re.M)
    return {name: names.count(name) for name in dict.fromkeys(names)}


def profile_resources(rule: str) -> dict:
    """profiles/slurm's resources of ``rule``: its set-resources over the default-resources."""
    profile = yaml.safe_load(PROFILE.read_text())
    return {**profile["default-resources"], **profile["set-resources"].get(rule, {})}


def documented_columns(heading: str) -> dict[str, list[str]]:
    """CSV columns per file of one section of docs/data-contracts.md
    (``| `file` | `a, b` ... |``)."""
    doc = (REPO / "docs" / "data-contracts.md").read_text()
    body = doc.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+\.csv)` \| `([^`]+)`", body, re.M)
    return {name: [c.strip() for c in columns.split(",")] for name, columns in rows}


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
    assert pd.read_csv(results / "data" / "rejected.csv").empty   # the demo data has no bad input
    summary = pd.read_csv(results / RUN / "metrics" / "summary.csv")
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    stages = ["gradcam", "shap", "fused", "graphcut", "graphcut_trimap_otsu", "graphcut_and"]
    # The Otsu baseline needs no classifier: one row for the run, not one per variant.
    assert list(zip(summary.variant, summary.stage)) == [
        *((v, s) for v in VARIANTS for s in stages), ("image_prior", "otsu"),
        ("supervised", "unet")]
    assert (summary.stage == "otsu").sum() == 1
    n_test = int((manifest.split == "test").sum())
    assert (summary.n_images == n_test).all()
    assert len(list((results / "supervised" / "unet").glob("test*/*.png"))) == n_test
    assert summary.set_index("stage").dice_mean["unet"] > 0.5   # it learned from the masks
    for name, columns in documented_columns("## 4c.").items():
        assert list(pd.read_csv(results / name).columns) == columns, name
    assert not (results / "supervised" / "unet_last_epoch.pt").exists()
    per_image = pd.read_csv(results / RUN / "metrics" / "per_image.csv")
    assert per_image[list(METRICS)].apply(lambda c: c.between(0, 1)).all().all()
    documented = documented_columns("## 7.")
    assert list(per_image.columns) == documented["per_image.csv"]
    assert list(summary.columns) == documented["summary.csv"]
    per_class = pd.read_csv(results / RUN / "metrics" / "summary_per_class.csv")
    assert list(per_class.columns) == ["variant", "dx", *SUMMARY_COLUMNS[1:]]
    n_val = int((manifest.split == "val").sum())
    maps = sorted((results / "attribution").glob("*/*/*.h5"))
    methods = 2                                         # config.yaml's gradcam and shap
    # validation maps feed the study
    assert len(maps) == len(VARIANTS) * methods * (n_test + n_val)
    test_maps = list((results / "attribution").glob("*/test*/*.h5"))
    assert len(test_maps) == len(VARIANTS) * methods * n_test
    hashes = {v: read_attribution(next((results / "attribution" / v).glob("*/*.h5")))
              .checkpoint_sha256 for v in VARIANTS}
    assert hashes == {v: file_sha256(results / "train" / v / "model.pt") for v in VARIANTS}
    status = pd.concat(pd.read_csv(p) for p in (results / RUN / "segment").glob("**/test*.csv"))
    assert len(status) == len(VARIANTS) * 3 * n_test   # one row per variant, image and seed mode
    # Rule segment computes what is exported (graphcut), segment_scored the other seed modes,
    # only on the scored test shards.
    asked = pd.concat(pd.read_csv(p) for p in (results / RUN / "segment").glob("*/*.csv"))
    assert set(asked.stage) == {"graphcut"} and len(asked) == len(VARIANTS) * (n_test + n_val)
    assert not any((results / RUN / "masks").glob("*/graphcut_and/val*"))
    exported = pd.read_csv(results / RUN / "segmentations.csv")
    assert len(exported) == n_test + n_val and set(exported.variant) == {VARIANTS[0]}
    assert set(exported.split) == {"val", "test"} and (exported.stage == "graphcut").all()
    assert set(status.stage) == {"graphcut", "graphcut_trimap_otsu", "graphcut_and"}
    masks = results / RUN / "masks"   # one Otsu folder for the run, every segmented shard
    assert [p.parent.name for p in masks.glob("*/otsu")] == ["image_prior"]
    assert len(list((masks / "image_prior" / "otsu").glob("*/*.png"))) == n_test + n_val
    html = (results / RUN / "report" / "report.html").read_text()
    assert "graphcut" in html and "data:image/png;base64" in html
    assert "Best threshold per method and class" in html and "Deletion faithfulness" in html
    assert all(f'id="classifier-{v}"' in html for v in VARIANTS)


@pytest.mark.slow
def test_costs_cover_every_job_within_the_slurm_profile(finished_run, monkeypatch):
    """costs.csv has a row per job of the run (not report's, not its own), follows contracts
    §10, fits every job's peak memory in profiles/slurm's mem_mb, and the report and
    benchmarks/pipeline_throughput.py show it."""
    _, results = finished_run
    costs = pd.read_csv(results / RUN / "costs.csv")
    assert list(costs.columns) == documented_columns("## 10.")["costs.csv"]
    assert set(costs.rule) == {
        "demo_data", "ingest", "augment", "train_member", "train", "attribute",
        "threshold_study", "faithfulness", "fuse", "segment", "segment_scored", "otsu",
        "train_unet", "unet", "evaluate", "export", "score_segmentations"}
    manifest = pd.read_csv(results / "data" / "manifest.csv")
    segmented = int(manifest.split.isin(["val", "test"]).sum())
    attribute = costs[costs.rule == "attribute"]
    assert len(attribute) == len(list((results / "attribution").glob("*/*")))
    assert attribute.images.sum() == len(VARIANTS) * segmented
    assert (costs.loc[costs.rule == "ingest", "images"] == len(manifest)).all()
    assert (costs.seconds > 0).all()
    assert (costs.seconds_per_image - costs.seconds / costs.images).abs().max() < 1e-9
    for job in costs.itertuples():
        if not pd.isna(job.max_rss_mb):
            assert job.max_rss_mb <= profile_resources(job.rule)["mem_mb"], job
    html = (results / RUN / "report" / "report.html").read_text()
    assert '<section id="costs">' in html and "Per-rule cost" in html
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    bench = importlib.import_module("pipeline_throughput")
    summary = json.loads(json.dumps(bench.throughput(results, 1.0)))
    assert summary["n_images"] == len(manifest) and set(summary["rules"]) == set(costs.rule)
    assert summary["rules"]["segment"]["jobs"] == (costs.rule == "segment").sum()
    assert "attribute" in bench.format_table(summary)


@pytest.mark.slow
def test_threshold_study_and_faithfulness_outputs(finished_run):
    _, results = finished_run
    manifest = pd.read_csv(results / "data" / "manifest.csv")
    study = results / "thresholds" / VARIANTS[0]
    curves = pd.read_csv(study / "jaccard_curves.csv")
    assert set(curves.split) == {"val", "test"} and set(curves.method) == {"gradcam", "shap"}
    assert len(curves) == 11 * 2 * int(manifest.split.isin(["val", "test"]).sum())
    assert curves.jaccard.between(0, 1).all()
    best = pd.read_csv(study / "best_thresholds.csv")
    auto = json.loads((study / "auto_thresholds.json").read_text())
    val_best = best[(best.split == "val") & (best.group == "all")].set_index("method")
    assert auto == {m: val_best.loc[m, "best_threshold"] for m in ("gradcam", "shap")}
    for name in ("by_outcome.csv", "mann_whitney.csv"):
        assert not pd.read_csv(study / name).empty
    for name, columns in documented_columns("## 4b.").items():
        table = pd.read_csv(results / name.format(variant=VARIANTS[0]))
        assert list(table.columns) == columns, name
    deletion = pd.read_csv(results / "faithfulness" / VARIANTS[0] / "summary.csv")
    assert set(deletion.method) == {"gradcam", "shap", "random"}
    assert set(deletion.fraction) == {0.05, 0.1, 0.2}


@pytest.mark.slow
def test_nothing_reruns_when_nothing_changed(finished_run):
    config, _ = finished_run
    assert planned_jobs(run(config, "--dry-run")) == {}


@pytest.mark.slow
def test_graph_cut_parameter_reruns_only_segment_and_after(finished_run, tmp_path):
    config, results = finished_run
    changed = write_config(tmp_path / "changed.yaml", results,
                           segment={**TINY["segment"], "pairwise_weight": 5.0})
    jobs = planned_jobs(run(changed, "--dry-run"))
    n_shards = len(list((results / RUN / "segment").glob("*/*.csv")))
    assert jobs == {"segment": n_shards, "segment_scored": scored_shards(results),
                    **SCORING}   # no U-Net


@pytest.mark.slow
def test_fuse_threshold_reruns_fuse_and_scoring_only(finished_run, tmp_path):
    config, results = finished_run
    changed = write_config(tmp_path / "changed.yaml", results,
                           fuse={"threshold_method": "quantile", "quantile": 0.6})
    jobs = planned_jobs(run(changed, "--dry-run"))
    assert jobs == {"fuse": scored_shards(results), **MAP_SCORING}   # seeds come from the maps


@pytest.mark.slow
def test_auto_threshold_reruns_fuse_from_the_study(finished_run, tmp_path):
    config, results = finished_run
    changed = write_config(tmp_path / "changed.yaml", results, fuse={"threshold_method": "auto"})
    output = run(changed, "--dry-run")
    assert planned_jobs(output) == {"fuse": scored_shards(results), **MAP_SCORING}
    assert "auto_thresholds.json" in output


@pytest.mark.slow
def test_training_parameter_reruns_train_and_after_but_not_the_data(finished_run, tmp_path):
    config, results = finished_run
    changed = write_config(tmp_path / "changed.yaml", results, train={**TINY["train"], "lr": 0.02})
    jobs = planned_jobs(run(changed, "--dry-run"))
    assert "ingest" not in jobs and "augment" not in jobs and "demo_data" not in jobs
    assert "train_unet" not in jobs and "unet" not in jobs   # the U-Net needs no classifier
    assert jobs["train"] == len(VARIANTS) and jobs["report"] == 1
    assert jobs["attribute"] == len(list((results / "attribution").glob("*/*")))


@pytest.mark.slow
def test_unet_parameter_reruns_only_the_unet_and_scoring(finished_run, tmp_path):
    config, results = finished_run
    changed = write_config(tmp_path / "changed.yaml", results, unet={**TINY["unet"], "lr": 0.002})
    jobs = planned_jobs(run(changed, "--dry-run"))
    n_shards = len(list((results / "supervised" / "unet").iterdir()))
    assert jobs == {"train_unet": 1, "unet": n_shards, "evaluate": 1, "costs": 1, "report": 1,
                    "all": 1}


@pytest.mark.slow
def test_a_disabled_unet_leaves_the_dag_and_the_metrics(finished_run, tmp_path):
    config, results = finished_run
    changed = write_config(tmp_path / "no_unet.yaml", results, run="no_unet",
                           unet={"enabled": False})
    jobs = planned_jobs(run(changed))
    assert "train_unet" not in jobs and "unet" not in jobs and jobs["evaluate"] == 1
    summary = pd.read_csv(results / "runs" / "no_unet" / "metrics" / "summary.csv")
    assert "unet" not in set(summary.stage) and "graphcut" in set(summary.stage)


@pytest.mark.slow
def test_a_second_run_name_reuses_model_and_maps(finished_run, tmp_path):
    """Two graph-cut settings side by side: a new run name recomputes fuse onwards only, and
    leaves the first run's outputs in place."""
    config, results = finished_run
    changed = write_config(tmp_path / "other.yaml", results, run="strong_smoothing",
                           segment={**TINY["segment"], "pairwise_weight": 30.0})
    output = run(changed)
    jobs = planned_jobs(output)
    n_shards = len(list((results / RUN / "segment").glob("*/*.csv")))
    n_otsu = len(list((results / RUN / "masks" / "image_prior" / "otsu").iterdir()))
    assert jobs == {"fuse": scored_shards(results), "segment": n_shards,
                    "segment_scored": scored_shards(results), "otsu": n_otsu, **SCORING}
    other = results / "runs" / "strong_smoothing"
    assert (other / "report" / "report.html").is_file()
    first = pd.read_csv(results / RUN / "metrics" / "summary.csv")
    second = pd.read_csv(other / "metrics" / "summary.csv")
    assert list(first.stage) == list(second.stage)
    assert planned_jobs(run(config, "--dry-run")) == {}  # the first run is still complete


@pytest.mark.slow
def test_snakemake_report_packages_registered_outputs(finished_run, tmp_path):
    config, _ = finished_run
    run(config, "--report", str(tmp_path / "report.zip"))
    import zipfile

    names = zipfile.ZipFile(tmp_path / "report.zip").namelist()
    for expected in ("summary.csv", "classification_report.csv", "report.html"):
        assert any(n.endswith(expected) for n in names), names


@pytest.mark.slow
def test_every_output_stays_inside_the_results_dir(finished_run):
    config, results = finished_run
    lines = run(config, "--summary").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("output_file\t"))
    rows = [line.split("\t") for line in lines[header + 1:] if "\t" in line]
    paths = [Path(r[0]) for r in rows] + [Path(p) for r in rows for p in r[3].split(",")
                                          if p.strip() and p != "-"]
    assert len(rows) > 20
    outside = [p for p in paths if not (REPO / p).resolve().is_relative_to(results.resolve())]
    assert outside == []


def kill_when(config: Path, reached: Callable[[], bool]) -> None:
    """Run the workflow and SIGKILL its whole process group as soon as ``reached()`` holds."""
    proc = subprocess.Popen([*SNAKEMAKE, "--configfile", str(config)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 600
    while not reached():
        assert proc.poll() is None, "the workflow ended before the kill point"
        assert time.monotonic() < deadline, "kill point not reached in 10 minutes"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    run(config, "--unlock")  # a killed Snakemake leaves its lock behind


@pytest.mark.slow
def test_killed_workflow_reruns_to_identical_metrics(finished_run, tmp_path):
    """SIGKILL during training, attribution and segmentation; each rerun picks up the killed
    stage; the final metrics are byte-identical to the uninterrupted run's (same seed)."""
    _, reference = finished_run
    results = tmp_path / "results"
    config = write_config(tmp_path / "tiny.yaml", results)

    kill_when(config, lambda: any((results / "train").glob("*/members/*/last_epoch.pt")))
    assert not any((results / "train").glob("*/model.pt"))
    kill_when(config, lambda: any((results / "attribution").glob("*/*/*.h5")))
    logs = [p.read_text() for p in (results / "logs" / "train").glob("*.log")]
    assert any("resuming after epoch 1" in log for log in logs)
    kill_when(config, lambda: any((results / RUN / "masks").glob("*/graphcut/*/*.png")))
    assert not (results / RUN / "metrics" / "summary.csv").exists()
    jobs = planned_jobs(run(config))
    assert jobs["segment"] >= 1
    for name in ("summary.csv", "per_image.csv"):
        ours = (results / RUN / "metrics" / name).read_bytes()
        assert ours == (reference / RUN / "metrics" / name).read_bytes(), name


@pytest.mark.slow
def test_an_external_dataset_is_segmented_with_the_trained_models(finished_run, tmp_path):
    """Cross-dataset: one config entry segments and scores another folder in the HAM10000
    layout (half of it unlabelled) with the models, maps settings and thresholds of the run;
    nothing is trained again. Kept near the end: it adds a dataset to the shared results."""
    from conftest import write_tiny_release

    meta = write_tiny_release(tmp_path / "toy", lesions_per_class=1, seed=5)
    meta.assign(dx=[dx if i % 2 else "" for i, dx in enumerate(meta.dx)]).drop(
        columns="lesion_id").to_csv(tmp_path / "toy" / "HAM10000_metadata.csv", index=False)
    _, results = finished_run
    config = write_config(tmp_path / "external.yaml", results,
                          external={"toy": str(tmp_path / "toy")})
    jobs = executed_jobs(run(config))
    n_shards = -(-len(meta) // TINY["attribute"]["shard_size"])
    per_variant = len(VARIANTS) * n_shards
    assert jobs == {"ingest_external": 1, "attribute": per_variant, "fuse": per_variant,
                    "segment": per_variant, "segment_scored": per_variant, "otsu": n_shards,
                    "evaluate_external": 1, "export_external": 1, "costs": 1, "report": 1,
                    "all": 1}
    exported = pd.read_csv(results / RUN / "external" / "toy" / "segmentations.csv")
    assert len(exported) == len(meta) and set(exported.variant) == {VARIANTS[0]}
    pngs = list((results / RUN / "external" / "toy" / "segmentations").glob("*.png"))
    assert len(pngs) == len(meta)
    summary = pd.read_csv(results / RUN / "external" / "toy" / "metrics" / "summary.csv")
    assert set(summary.variant) == {*VARIANTS, "image_prior"}
    assert (summary.n_images == len(meta)).all() and (summary.stage == "otsu").sum() == 1
    html = (results / RUN / "report" / "report.html").read_text()
    assert '<section id="cross-dataset">' in html and "<h3>toy</h3>" in html


@pytest.mark.slow
def test_a_second_variant_is_trained_and_scored_beside_the_first(finished_run, tmp_path):
    """Two classifier variants side by side (config.yaml's plain and cbam): added to a finished
    run, only the new one is trained, explained and segmented; the scores, the report and the
    summary command list both. Kept last: it adds a variant to the shared results."""
    _, results = finished_run
    config = write_config(tmp_path / "two_variants.yaml", results, variants=TWO_VARIANTS)
    jobs = executed_jobs(run(config))
    shards = {split: len(list((results / "attribution" / VARIANTS[0]).glob(f"{split}*")))
              for split in ("val", "test")}
    assert jobs["train_member"] == jobs["train"] == 1                  # cbam only
    assert jobs["attribute"] == shards["val"] + shards["test"]
    assert jobs["fuse"] == jobs["segment"] == jobs["segment_scored"] == shards["test"]
    assert not {"demo_data", "ingest", "augment", "train_unet", "unet"} & set(jobs)
    summary = pd.read_csv(results / RUN / "metrics" / "summary.csv")
    assert list(dict.fromkeys(summary.variant)) == [*TWO_VARIANTS, "image_prior", "supervised"]
    # the Otsu baseline once, not per variant
    assert list(summary.variant[summary.stage == "otsu"]) == ["image_prior"]
    html = (results / RUN / "report" / "report.html").read_text()
    assert all(f'id="classifier-{v}"' in html for v in TWO_VARIANTS)
    proc = subprocess.run([sys.executable, "-m", "xaicut.summary", "--configfile", str(config)],
                          cwd=REPO, capture_output=True, text=True, check=True)
    for variant in TWO_VARIANTS:
        assert re.search(rf"classifier {variant} test accuracy: [01]\.\d{{3}}, "
                         rf"balanced accuracy: [01]\.\d{{3}}", proc.stdout)
    assert proc.stdout.count("graphcut_and") == len(TWO_VARIANTS)
    otsu = [line.split() for line in proc.stdout.splitlines() if re.search(r"\botsu\b", line)]
    assert [row[:2] for row in otsu] == [["image_prior", "otsu"]]
