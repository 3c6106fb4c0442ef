"""Threshold study (paper 001): Jaccard curves, best-threshold tables, Mann-Whitney, auto
threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xaicut.attribution_store import AttributionMap, attribution_path, write_attribution
from xaicut.fuse import fuse_shard
from xaicut.io import read_mask, write_mask
from xaicut.metrics import mask_metrics
from xaicut.threshold_study import (
    CURVE_COLUMNS,
    THRESHOLDS,
    auto_thresholds,
    best_thresholds,
    jaccard_curve,
    mann_whitney,
    outcome_table,
    study_curves,
)


def test_jaccard_curve_matches_mask_metrics_at_every_threshold():
    rng = np.random.default_rng(0)
    values = rng.random((30, 40)).astype(np.float32)
    values[5:10, 5:10] = 0.5  # ties exactly at a threshold
    truth = np.zeros((30, 40), bool)
    truth[8:25, 10:30] = True
    curve = jaccard_curve(values, truth)
    expected = [mask_metrics(values > t, truth)["jaccard"] for t in THRESHOLDS]
    assert np.allclose(curve, expected)
    assert curve[-1] == 0.0  # nothing is above 1.0
    assert jaccard_curve(np.zeros((3, 3)), np.zeros((3, 3), bool))[-1] == 1.0  # both empty
    with pytest.raises(ValueError, match="shape"):
        jaccard_curve(values, truth[:10])


def synthetic_curves() -> pd.DataFrame:
    """Two methods: 'sharp' peaks at 0.6, 'wide' at 0.2; mel maps are worse when wrong."""
    records = []
    rng = np.random.default_rng(1)
    for split in ("val", "test"):
        for i in range(40):
            dx = "mel" if i % 2 else "nv"
            correct = i % 4 < 2
            for method, peak in (("sharp", 0.6), ("wide", 0.2)):
                level = 0.8 if (correct or dx == "nv") else 0.3
                for t in THRESHOLDS:
                    j = level * np.exp(-((t - peak) ** 2) / 0.02) + rng.normal(0, 0.01)
                    records.append((f"{split}{i}", split, dx, method, 0, 0 if correct else 1,
                                    correct, t, float(np.clip(j, 0, 1))))
    return pd.DataFrame(records, columns=list(CURVE_COLUMNS))


def test_tables_follow_paper_001():
    curves = synthetic_curves()
    best = best_thresholds(curves)
    overall = best[best.group == "all"].set_index(["split", "method"])
    assert overall.loc[("test", "sharp"), "best_threshold"] == 0.6
    assert overall.loc[("test", "wide"), "best_threshold"] == 0.2
    assert overall.loc[("test", "sharp"), "n_images"] == 40
    row = overall.loc[("test", "sharp")]
    assert row.j_min <= row.j_mean <= row.j_max and row.j_sd > 0
    assert set(best.group) == {"all", "mel", "nv"}
    outcome = outcome_table(curves)
    mel = outcome[(outcome.split == "test") & (outcome.method == "sharp") & (outcome.dx == "mel")]
    means = mel.set_index("outcome").j_mean
    assert means["correct"] > means["wrong"] + 0.3
    tests = mann_whitney(curves, best).set_index(["split", "method", "dx"])
    assert tests.loc[("test", "sharp", "mel"), "p_value"] < 0.001   # wrong mel maps are worse
    assert tests.loc[("test", "sharp", "nv"), "p_value"] > 0.01     # nv: no difference
    assert tests.loc[("test", "sharp", "mel"), "n_correct"] == 10
    assert auto_thresholds(best) == {"sharp": 0.6, "wide": 0.2}
    with pytest.raises(ValueError, match="validation"):
        auto_thresholds(best[best.split == "test"])


def test_auto_threshold_comes_from_validation_only():
    """Validation maps peak at 0.3, test maps at 0.8: auto must pick 0.3."""
    curves = synthetic_curves()
    shifted = curves.copy()
    shifted.loc[shifted.split == "test", "threshold"] = (
        shifted.loc[shifted.split == "test", "threshold"] + 0.5).round(1).clip(upper=1.0)
    best = best_thresholds(shifted[shifted.method == "wide"])
    assert auto_thresholds(best) == {"wide": 0.2}
    assert best[(best.split == "test") & (best.group == "all")].best_threshold.item() == 0.7


def write_map(directory, image_id: str, method: str, values: np.ndarray, predicted: int,
              true: int) -> None:
    write_attribution(AttributionMap(image_id, method, values.astype(np.float32), predicted,
                                     "mel", predicted, 0.9, true, "ab" * 32),
                      attribution_path(directory, image_id, method))


def test_study_curves_read_maps_and_masks(tmp_path):
    truth = np.zeros((20, 30), bool)
    truth[5:15, 10:20] = True
    ramp = np.where(truth, 0.75, 0.25)
    rows = []
    for i, split in enumerate(["val", "test", "test"]):
        image_id = f"ISIC_{i:07d}"
        write_mask(truth, tmp_path / "masks" / f"{image_id}.png")
        write_map(tmp_path / f"{split}000", image_id, "gradcam", ramp, predicted=4, true=4 + i // 2)
        rows.append((image_id, split, "mel", str(tmp_path / "masks" / f"{image_id}.png")))
    manifest = pd.DataFrame(rows, columns=["image_id", "split", "dx", "mask_path"]).assign(
        has_mask=True)
    curves = study_curves(manifest, [tmp_path / "val000", tmp_path / "test000"], ["gradcam"])
    assert list(curves.columns) == list(CURVE_COLUMNS)
    assert len(curves) == 3 * len(THRESHOLDS)
    per_t = curves[curves.image_id == "ISIC_0000000"].set_index("threshold").jaccard
    assert per_t[0.5] == 1.0 and per_t[0.0] == pytest.approx(truth.mean())
    assert per_t[0.8] == 0.0
    assert curves.groupby("image_id").correct.first().tolist() == [True, True, False]
    best = best_thresholds(curves)
    # 0.3 ... 0.7 tie at J = 1; the first (lowest) is reported
    assert auto_thresholds(best) == {"gradcam": 0.3}


def test_fuse_applies_auto_thresholds(tmp_path):
    values = np.tile(np.linspace(0, 1, 11, dtype=np.float32), (4, 1))
    write_map(tmp_path / "maps", "ISIC_0000001", "gradcam", values, 4, 4)
    write_map(tmp_path / "maps", "ISIC_0000001", "shap", values, 4, 4)
    cfg = {"mode": "and", "threshold_method": "auto", "threshold": 0.5, "quantile": 0.7,
           "region": "all", "min_area_fraction": 0.01}
    out = {s: tmp_path / s for s in ("gradcam", "shap", "fused")}
    fuse_shard(tmp_path / "maps", cfg, out, auto={"gradcam": 0.3, "shap": 0.75})
    assert (read_mask(out["gradcam"] / "ISIC_0000001.png").sum(axis=1) == 7).all()  # 0.4..1.0
    assert (read_mask(out["fused"] / "ISIC_0000001.png").sum(axis=1) == 3).all()    # 0.8..1.0
    with pytest.raises(ValueError, match="no validation threshold"):
        fuse_shard(tmp_path / "maps", cfg, out, auto={"gradcam": 0.3})
