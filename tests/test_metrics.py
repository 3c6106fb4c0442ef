"""Metrics equal hand-computed values and the ISIC challenge scoring package's; evaluate reads
the documented mask layout."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
from isic_challenge_scoring import metrics as isic
from isic_challenge_scoring.confusion import create_binary_confusion_matrix

from test_graphcut import sample_images
from xaicut.comparison import stage_ablation, unet_vs_xai
from xaicut.io import write_mask
from xaicut.metrics import METRICS, SUMMARY_COLUMNS, evaluate_results, mask_metrics, summarise


def test_metrics_match_hand_computation():
    truth = np.zeros((4, 5), bool)
    truth[0:2, 0:3] = True                  # 6 lesion pixels
    pred = np.zeros((4, 5), bool)
    pred[1:3, 0:3] = True                   # 6 predicted, 3 overlap
    m = mask_metrics(pred, truth)           # tp 3, fp 3, fn 3, tn 11
    assert m["dice"] == pytest.approx(6 / 12)
    assert m["jaccard"] == pytest.approx(3 / 9)
    assert m["accuracy"] == pytest.approx(14 / 20)
    assert m["sensitivity"] == pytest.approx(3 / 6)
    assert m["specificity"] == pytest.approx(11 / 14)
    assert m["precision"] == pytest.approx(3 / 6)
    assert m["threshold_jaccard"] == 0.0    # Jaccard 1/3 < 0.65
    assert set(m) == set(METRICS)


def test_edge_cases():
    empty = np.zeros((3, 3), bool)
    assert mask_metrics(empty, empty)["dice"] == 1.0
    assert mask_metrics(~empty, empty)["dice"] == 0.0
    assert mask_metrics(~empty, ~empty)["jaccard"] == 1.0
    assert set(mask_metrics(empty, empty).values()) == {1.0}
    assert mask_metrics(empty, ~empty)["precision"] == 1.0     # nothing predicted, nothing wrong
    assert mask_metrics(empty, ~empty)["jaccard"] == 0.0
    assert mask_metrics(~empty, empty)["sensitivity"] == 1.0   # nothing to find
    with pytest.raises(ValueError, match="shapes differ"):
        mask_metrics(empty, np.zeros((2, 3), bool))


def test_evaluate_results_tables(tmp_path):
    truth = np.zeros((10, 10), bool)
    truth[2:8, 2:8] = True
    manifest = pd.DataFrame({"image_id": ["a", "b"], "dx": ["nv", "mel"],
                             "mask_path": [str(tmp_path / "gt.png")] * 2, "has_mask": True})
    write_mask(truth, tmp_path / "gt.png")
    write_mask(truth, tmp_path / "masks/cbam/graphcut/shard000/a.png")
    write_mask(np.zeros_like(truth), tmp_path / "masks/cbam/graphcut/shard000/b.png")
    write_mask(truth[::-1], tmp_path / "masks/cbam/fused/shard000/a.png")
    write_mask(np.zeros_like(truth), tmp_path / "masks/base/graphcut/shard000/a.png")
    tables = evaluate_results(manifest, [(v, s, tmp_path / f"masks/{v}/{s}/shard000")
                                         for v, s in (("cbam", "fused"), ("cbam", "graphcut"),
                                                      ("base", "graphcut"))])
    assert list(tables["summary"].columns) == list(SUMMARY_COLUMNS)
    assert list(zip(tables["summary"].variant, tables["summary"].stage)) == [
        ("cbam", "fused"), ("cbam", "graphcut"), ("base", "graphcut")]
    summary = tables["summary"][tables["summary"].variant == "cbam"].set_index("stage")
    assert summary.loc["graphcut", "dice_mean"] == pytest.approx(0.5)
    assert summary.loc["graphcut", "n_images"] == 2
    assert summary.loc["fused", "dice_mean"] == pytest.approx(1.0)  # truth is symmetric
    assert tables["per_image"].query("variant == 'base'").dice.tolist() == [0.0]
    per_class = tables["per_class"]
    mel = per_class[(per_class.dx == "mel") & (per_class.stage == "graphcut")]
    assert mel.set_index("variant").dice_mean.to_dict() == {"cbam": 0.0}



ISIC_METRICS = {  # our metric -> the ISIC challenge's function of a confusion matrix
    "accuracy": isic.binary_accuracy,
    "sensitivity": isic.binary_sensitivity,
    "specificity": isic.binary_specificity,
    "jaccard": isic.binary_jaccard,
    "threshold_jaccard": isic.binary_threshold_jaccard,
    "dice": isic.binary_dice,
    "precision": isic.binary_ppv,
}
DISK = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (41, 41))
PERTURBATIONS = {  # name -> prediction made from a ground-truth mask
    "exact": lambda t: t,
    "dilated": lambda t: cv2.dilate(t.astype(np.uint8), DISK) > 0,
    "eroded": lambda t: cv2.erode(t.astype(np.uint8), DISK) > 0,
    "shifted": lambda t: np.roll(t, (60, 90), axis=(0, 1)),
    "empty": np.zeros_like,
    "full": np.ones_like,
}


def scoring_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    """(prediction, truth) pairs: the real sample masks under each perturbation, and an empty
    truth against an empty and a full prediction."""
    truths = [truth for _, truth in sample_images()]
    cases = [(perturb(t), t) for t in truths for perturb in PERTURBATIONS.values()]
    empty = np.zeros_like(truths[0])
    return cases + [(empty, empty), (~empty, empty)]


def test_metrics_equal_isic_challenge_scoring():
    """Per image, ``mask_metrics`` equals the ISIC-2018 challenge scoring to 1e-9, empty masks
    included (the ISIC scorer binarises ``> 128``; masks here are already boolean)."""
    cases = scoring_cases()
    for prediction, truth in cases:
        ours = mask_metrics(prediction, truth)
        matrix = create_binary_confusion_matrix(truth_binary_values=truth.astype(bool),
                                                prediction_binary_values=prediction.astype(bool))
        theirs = {name: float(score(matrix)) for name, score in ISIC_METRICS.items()}
        assert ours == pytest.approx(theirs, abs=1e-9, rel=0)
    thresholded = [mask_metrics(p, t)["threshold_jaccard"] for p, t in cases]
    assert 0.0 in thresholded and any(0.65 <= j < 1 for j in thresholded)  # both branches


def test_comparison_tables_order_stages_as_the_pipeline_and_put_the_unet_first():
    per_image = pd.DataFrame([
        {"image_id": i, "variant": v, "stage": s, "dice": d, "jaccard": d / (2 - d)}
        for v, stages in (("plain", ("graphcut", "gradcam", "fused", "student")),
                          ("image_prior", ("otsu",)), ("supervised", ("unet",)))
        for s in stages for i, d in (("a", 0.4), ("b", 0.8))])
    per_image = per_image.assign(**{m: 0.5 for m in METRICS if m not in per_image})
    summary = summarise(per_image, ["variant", "stage"])
    ablation = stage_ablation(summary)
    assert list(zip(ablation.variant, ablation.stage)) == [
        ("plain", s) for s in ("gradcam", "fused", "graphcut", "student")
    ] + [("image_prior", "otsu"), ("supervised", "unet")]
    assert list(ablation.columns) == ["variant", "stage", "n_images",
                                      *(c for c in SUMMARY_COLUMNS if c.endswith("_mean"))]
    table = unet_vs_xai(per_image)
    assert list(table.columns) == ["variant", "method", "stage", "n_images", "dice_mean",
                                   "dice_sd", "jaccard_mean", "jaccard_sd"]
    assert list(table.stage) == ["fused", "graphcut", "student", "unet"]   # no map mask, no otsu
    graphcut = table.set_index("stage").loc["graphcut"]
    assert graphcut.dice_mean == pytest.approx(0.6)
    assert graphcut.dice_sd == pytest.approx(pd.Series([0.4, 0.8]).std())
    assert table.set_index("stage").method["unet"] == "U-Net (supervised)"
