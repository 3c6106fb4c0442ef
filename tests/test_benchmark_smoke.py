"""Smoke tests of the benchmarks: graphcut_vs_grabcut.py on two full-resolution sample images,
attribution_throughput.py on a few images, attribution_levers.py's scoring on synthetic maps;
the segmentation scoring, confidence design and map threshold rule benchmarks on miniature
runs."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pandas as pd
import pytest

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


def test_attribution_throughput_prints_ratios_and_shap_cost_as_json(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    bench = importlib.import_module("attribution_throughput")
    assert not set(bench.parse_args([]).methods) & set(bench.EXPENSIVE)
    assert set(bench.parse_args(["--expensive"]).methods) == set(bench.METHODS)
    with pytest.raises(SystemExit):
        bench.parse_args(["--methods", "scorecam"])  # expensive without --expensive
    images = [f"--images={m}=2" for m in ("forward", "gradcam", "eigencam_signed")]
    bench.main(["--models", "resnet18", "--methods", "gradcam,eigencam_signed,shap", "--library",
                "--rounds", "2", "--batch-size-18", "2", "--images", "shap=1", *images])

    lines = capsys.readouterr().out.strip().splitlines()
    entry = json.loads(lines[-1])["resnet18@128"]
    for method in ("gradcam", "eigencam_signed", "gradcam_library", "eigencam_signed_library"):
        assert entry[f"{method}_ips"] > 0 and entry[f"{method}_vs_forward"] > 0
    assert entry["shap_seconds_per_sample"] == pytest.approx(
        1 / entry["shap_ips"] / bench.SHAP_NSAMPLES, rel=1e-2)
    assert any("gradcam / forward" in line for line in lines)


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


def _rectangle(shift: int = 0, shape: tuple[int, int] = (40, 50)) -> np.ndarray:
    """A bool lesion rectangle, moved right by ``shift`` pixels."""
    mask = np.zeros(shape, dtype=bool)
    mask[10:30, 12 + shift:38 + shift] = True
    return mask


def _write_run(tmp_path, n_images: int = 20):
    """A finished run in miniature: ground truth, exported masks (every other image wrong, and
    less confident), the stage masks of the val shard and a segmentations table."""
    from xaicut.export import exported_mask_name
    from xaicut.io import write_image, write_mask

    masks_dir, run_dir = tmp_path / "truth", tmp_path / "results" / "runs" / "default"
    rows, images = [], []
    for i in range(n_images):
        image_id, good, split = f"ISIC_{i:07d}", i % 2 == 0, ("val", "test")[i % 4 >= 2]
        exported = _rectangle(0 if good else 11)
        write_mask(_rectangle(), masks_dir / f"{image_id}_segmentation.png")
        image_path = tmp_path / "images" / f"{image_id}.png"
        write_image(np.dstack([np.where(_rectangle(), 90, 200).astype(np.uint8)] * 3), image_path)
        images.append({"image_id": image_id, "image_path": str(image_path)})
        write_mask(exported, run_dir / "segmentations" / exported_mask_name(image_id))
        stages = {("plain", "graphcut"): exported, ("plain", "graphcut_and"): _rectangle(1),
                  ("image_prior", "otsu"): _rectangle(),
                  ("plain", "eigencam_signed"): _rectangle(2)}
        for (variant, stage), mask in stages.items():
            write_mask(mask,
                       run_dir / "masks" / variant / stage / f"{split}000" / f"{image_id}.png")
        rows.append({"image_id": image_id, "dx": "nv", "split": split, "variant": "plain",
                     "stage": "graphcut", "confidence": 0.9 if good else 0.2 + 0.01 * i})
    pd.DataFrame(rows).to_csv(run_dir / "segmentations.csv", index=False)
    (run_dir.parents[1] / "data").mkdir()
    pd.DataFrame(images).to_csv(run_dir.parents[1] / "data" / "manifest.csv", index=False)
    return masks_dir, run_dir


def test_score_segmentations_benchmark_scores_splits_and_confidence(monkeypatch, tmp_path, capsys):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    bench = importlib.import_module("score_segmentations")
    masks_dir, run_dir = _write_run(tmp_path)
    bench.main([str(masks_dir), str(run_dir)])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(result) == ["val", "test", "all"]
    assert result["all"]["n_images"] == 20 and result["val"]["n_images"] == 10
    good, bad = 1.0, 2 * 15 * 20 / (2 * 26 * 20)         # a rectangle moved by 11 of its 26 px
    assert abs(result["all"]["dice_mean"] - (good + bad) / 2) < 1e-9
    assert result["all"]["dice_ci_low"] < result["all"]["dice_mean"] < result["all"]["dice_ci_high"]
    assert result["all"]["spearman_rho"] > 0.8
    assert result["all"]["failure_rate_least_confident"] == 1.0
    assert result["all"]["failure_rate_all"] == 0.5


def test_confidence_design_ranks_candidates_on_the_chosen_split(monkeypatch, tmp_path, capsys):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    bench = importlib.import_module("confidence_design")
    masks_dir, run_dir = _write_run(tmp_path)
    bench.main([str(masks_dir), str(run_dir.parents[1]), "--split", "val"])
    output = capsys.readouterr().out
    assert output.startswith("val: 10 images")
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["agreement with otsu"]["spearman_rho"] > 0.8
    assert (summary["mean agreement, all masks x (1 - border)"]["failure_rate_least_confident"]
            == 1.0)
    assert summary["solidity x tanh(separation) (shipped)"]["spearman_rho"] > 0.8
    assert bench.border_contact(np.ones((40, 50), bool)) == 1.0
    assert bench.border_contact(_rectangle()) == 0.0


def test_map_threshold_rules_scores_label_free_rules_and_auto(monkeypatch, tmp_path, capsys):
    from xaicut.attribution_store import AttributionMap, attribution_path, write_attribution
    from xaicut.io import write_mask

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    bench = importlib.import_module("map_threshold_rules")
    results, masks_dir = tmp_path / "results", tmp_path / "truth"
    for i, split in enumerate(["val", "val", "test", "test"]):
        image_id, truth = f"ISIC_{i:07d}", _rectangle()
        write_mask(truth, masks_dir / f"{image_id}_segmentation.png")
        values = (truth * 0.6 + 0.2).astype(np.float32)       # lesion 0.8, skin 0.2
        shard = results / "attribution" / "plain" / f"{split}000"
        write_attribution(AttributionMap(image_id, "gradcam", values, 0, "nv", 0, 0.9, 0, "x" * 64),
                          attribution_path(shard, image_id, "gradcam"))
    bench.main([str(results), "plain", str(masks_dir), "--methods", "gradcam"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["gradcam"]
    assert summary["otsu"] == {"val": 1.0, "test": 1.0}
    assert summary["0.5"] == {"val": 1.0, "test": 1.0}
    assert summary["0.1"]["val"] < 1.0                    # every pixel above the cut
    assert any(name.startswith("auto (") and scores["val"] == 1.0
               for name, scores in summary.items())


def test_seed_settings_scores_each_setting_against_the_baseline(monkeypatch, tmp_path, capsys):
    from xaicut.attribution_store import AttributionMap, attribution_path, write_attribution
    from xaicut.config import load_config
    from xaicut.io import write_image, write_mask

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    bench = importlib.import_module("seed_settings")
    results, masks_dir = tmp_path / "results", tmp_path / "truth"
    methods = load_config(REPO / "config.yaml")["attribute"]["methods"]
    rows = []
    for i, split in enumerate(["val", "val", "test"]):
        image_id, truth = f"ISIC_{i:07d}", _rectangle()
        write_mask(truth, masks_dir / f"{image_id}_segmentation.png")
        image_path = tmp_path / "images" / f"{image_id}.png"
        write_image(np.dstack([np.where(truth, 90, 200).astype(np.uint8)] * 3), image_path)
        rows.append({"image_id": image_id, "image_path": str(image_path), "split": split})
        for method in methods:
            values = (truth * 0.6 + 0.2).astype(np.float32)
            write_attribution(AttributionMap(image_id, method, values, 0, "nv", 0, 0.9, 0,
                                             "x" * 64),
                              attribution_path(results / "attribution" / "plain" / f"{split}000",
                                               image_id, method))
    (results / "data").mkdir()
    pd.DataFrame(rows).to_csv(results / "data" / "manifest.csv", index=False)
    bench.main([str(results), "plain", str(masks_dir), "--config", str(REPO / "config.yaml"),
                "--settings", '{"wide": {"seeding": {"consensus_margin": 0.2}}}'])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(summary) == ["baseline", "wide"]
    assert summary["baseline"]["n_images"] == 2 and summary["baseline"]["paired_difference"] == 0
    assert summary["baseline"]["dice_mean"] > 0.9


def test_stage_scores_compares_each_stage_with_the_reference_image_by_image(monkeypatch, tmp_path,
                                                                            capsys):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    bench = importlib.import_module("stage_scores")
    masks_dir, run_dir = _write_run(tmp_path)
    bench.main([str(run_dir.parents[1]), str(masks_dir), "--stages",
                "plain/graphcut,image_prior/otsu", "--reference", "plain/graphcut_and"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(result["plain/graphcut"]) == ["val", "test", "all"]
    otsu, graphcut = result["image_prior/otsu"]["all"], result["plain/graphcut"]["all"]
    shifted = 2 * 25 * 20 / (2 * 26 * 20)                   # the reference: moved by 1 px
    assert otsu["n_images"] == otsu["n_paired"] == 20 and otsu["dice_mean"] == 1.0
    assert abs(otsu["difference_mean"] - (1 - shifted)) < 1e-9
    assert otsu["n_better"] == 20 and otsu["n_worse"] == 0
    assert graphcut["n_better"] == graphcut["n_worse"] == 10     # exact ten, moved ten
    assert graphcut["difference_ci_low"] < graphcut["difference_mean"] < 0


def test_segment_asked_times_the_asked_stages_against_every_mode(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    bench = importlib.import_module("segment_asked")
    bench.main(["--n-lesions", "2", "--width", "120", "--height", "90"])
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["stages_asked"] == ["graphcut"]          # the shipped config exports auto
    assert figures["stages_all"] == ["graphcut", "graphcut_trimap_otsu", "graphcut_and"]
    assert figures["n_images"] >= 2 and figures["identical_masks"] is True
    seconds = figures["seconds_per_image"]
    assert set(seconds) == {"asked", "all", "all_per_mode"} and min(seconds.values()) > 0
    assert set(figures["cpu_seconds_per_image"]) == set(seconds)
    assert figures["speedup_asked_vs_all_per_mode"] > 1     # one graph cut of three
    assert len(lines) == 4


def test_graphcut_tolerance_compares_tolerances_image_by_image(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    bench = importlib.import_module("graphcut_tolerance")
    bench.main(["--dev-dir", str(REPO / "tests" / "data" / "ham10000_sample"), "--n", "2",
                "--workers", "1", "--tolerances", "0.001,0.5"])
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(figures) == {"student/0.001", "student/0.5", "otsu/0.001", "otsu/0.5"}
    reference, loose = figures["otsu/0.001"], figures["otsu/0.5"]
    assert reference["n"] == 2 and reference["diff"] == 0 and reference["agreement"] == 1
    assert 0.5 < reference["dice"] <= 1
    assert loose["cuts"] == 1 <= reference["cuts"]           # 0.5: stop after the first cut
