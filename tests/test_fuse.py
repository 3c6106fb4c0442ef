"""Fuse: thresholds (absolute, quantile, Otsu) and AND/OR/single fusion."""

from __future__ import annotations

import numpy as np
import pytest

from xaicut.attribution_store import AttributionMap, attribution_path, write_attribution
from xaicut.fuse import binarise_map, fuse_masks, fuse_shard
from xaicut.io import read_mask


def ramp() -> np.ndarray:
    return np.tile(np.linspace(0, 1, 11, dtype=np.float32), (4, 1))


def test_thresholds():
    values = ramp()
    assert binarise_map(values, "absolute", threshold=0.5).sum() == 4 * 5  # 0.6 .. 1.0
    assert binarise_map(values, "quantile", quantile=0.8).sum() == 4 * 2   # above 0.8
    bimodal = np.where(np.arange(40).reshape(4, 10) < 15, 0.1, 0.9).astype(np.float32)
    assert binarise_map(bimodal, "otsu").sum() == 25
    assert not binarise_map(np.full((3, 3), 0.4), "otsu").any()
    with pytest.raises(ValueError, match="unknown threshold"):
        binarise_map(values, "mean")


def test_fusion_modes():
    a = np.array([[1, 1, 0, 0]], bool)
    b = np.array([[1, 0, 1, 0]], bool)
    masks = {"gradcam": a, "shap": b}
    assert fuse_masks(masks, "and").tolist() == [[True, False, False, False]]
    assert fuse_masks(masks, "or").tolist() == [[True, True, True, False]]
    assert fuse_masks(masks, "shap").tolist() == b.tolist()
    with pytest.raises(ValueError, match="needs a 'shap'"):
        fuse_masks({"gradcam": a}, "shap")


def test_fuse_shard_writes_every_stage(tmp_path):
    values = ramp()
    for method, vals in (("gradcam", values), ("shap", values[:, ::-1].copy())):
        write_attribution(AttributionMap("ISIC_1", method, vals, 5, "nv", 5, 0.9, 5, "x"),
                          attribution_path(tmp_path / "maps", "ISIC_1", method))
    out = {s: tmp_path / s for s in ("gradcam", "shap", "fused")}
    cfg = {"threshold_method": "absolute", "threshold": 0.25, "quantile": 0.5, "mode": "and"}
    fuse_shard(tmp_path / "maps", cfg, out)
    fused = read_mask(out["fused"] / "ISIC_1.png")
    assert fused[0].tolist() == [False] * 3 + [True] * 5 + [False] * 3
    assert read_mask(out["gradcam"] / "ISIC_1.png").sum() == 4 * 8
