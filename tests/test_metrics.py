"""Metrics equal hand-computed values; evaluate reads the documented mask layout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xaicut.io import write_mask
from xaicut.metrics import SUMMARY_COLUMNS, evaluate_results, mask_metrics


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


def test_edge_cases():
    empty = np.zeros((3, 3), bool)
    assert mask_metrics(empty, empty)["dice"] == 1.0
    assert mask_metrics(~empty, empty)["dice"] == 0.0
    assert mask_metrics(~empty, ~empty)["jaccard"] == 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        mask_metrics(empty, np.zeros((2, 3), bool))


def test_evaluate_results_tables(tmp_path):
    truth = np.zeros((10, 10), bool)
    truth[2:8, 2:8] = True
    manifest = pd.DataFrame({"image_id": ["a", "b"], "dx": ["nv", "mel"],
                             "mask_path": [str(tmp_path / "gt.png")] * 2})
    write_mask(truth, tmp_path / "gt.png")
    write_mask(truth, tmp_path / "masks/cbam/graphcut/shard000/a.png")
    write_mask(np.zeros_like(truth), tmp_path / "masks/cbam/graphcut/shard000/b.png")
    write_mask(truth[::-1], tmp_path / "masks/cbam/fused/shard000/a.png")
    write_mask(np.zeros_like(truth), tmp_path / "masks/base/graphcut/shard000/a.png")
    tables = evaluate_results(manifest, [str(tmp_path / "masks/cbam/fused/shard000"),
                                         str(tmp_path / "masks/cbam/graphcut/shard000"),
                                         str(tmp_path / "masks/base/graphcut/shard000")])
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

