"""Fuse: thresholds (absolute, quantile, Otsu) and AND/OR/single fusion."""

from __future__ import annotations

import numpy as np
import pytest

from xaicut.attribution_store import AttributionMap, attribution_path, write_attribution
from xaicut.fuse import binarise_map, central_region, fuse_masks, fuse_shard
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
        binarise_map(values, "median")


def test_fusion_modes():
    a = np.array([[1, 1, 0, 0]], bool)
    b = np.array([[1, 0, 1, 0]], bool)
    masks = {"gradcam": a, "shap": b}
    assert fuse_masks(masks, "and").tolist() == [[True, False, False, False]]
    assert fuse_masks(masks, "or").tolist() == [[True, True, True, False]]
    assert fuse_masks(masks, "shap").tolist() == b.tolist()
    with pytest.raises(ValueError, match="needs a 'shap'"):
        fuse_masks({"gradcam": a}, "shap")


def fuse_maps_of_one_image(tmp_path, maps: dict[str, np.ndarray], threshold: float,
                           region: str) -> dict[str, object]:
    """Store ``maps`` (method -> values) of image ISIC_1, run ``fuse_shard`` with an absolute
    ``threshold``, AND fusion and ``region``; return the output folder per stage."""
    for method, values in maps.items():
        write_attribution(AttributionMap("ISIC_1", method, values, 5, "nv", 5, 0.9, 5, "x"),
                          attribution_path(tmp_path / "maps", "ISIC_1", method))
    out = {s: tmp_path / s for s in (*maps, "fused")}
    cfg = {"threshold_method": "absolute", "threshold": threshold, "quantile": 0.5, "mode": "and",
           "region": region, "min_area_fraction": 0.01}
    fuse_shard(tmp_path / "maps", cfg, out)
    return out


def test_fuse_shard_writes_every_stage(tmp_path):
    values = ramp()
    out = fuse_maps_of_one_image(tmp_path, {"gradcam": values, "shap": values[:, ::-1].copy()},
                                 threshold=0.25, region="all")
    fused = read_mask(out["fused"] / "ISIC_1.png")
    assert fused[0].tolist() == [False] * 3 + [True] * 5 + [False] * 3
    assert read_mask(out["gradcam"] / "ISIC_1.png").sum() == 4 * 8


def test_central_region_keeps_the_central_lesion_filled_and_drops_stray_peaks():
    mask = np.zeros((60, 80), dtype=bool)
    mask[20:40, 30:50] = True      # the lesion, in the middle, with a hole
    mask[28:32, 38:42] = False
    mask[0:10, 0:10] = True        # a larger corner artefact
    mask[55:57, 70:72] = True      # a speck
    region = central_region(mask, min_area_fraction=0.01)
    expected = np.zeros_like(mask)
    expected[20:40, 30:50] = True
    assert np.array_equal(region, expected)
    small = np.zeros_like(mask)
    small[5:7, 5:7] = True         # below min area, but the only component: kept
    assert np.array_equal(central_region(small, 0.01), small)
    assert not central_region(np.zeros_like(mask), 0.01).any()


def test_fuse_shard_central_region_cleans_method_and_fused_masks(tmp_path):
    values = np.zeros((60, 80), dtype=np.float32)
    values[20:40, 30:50] = 1.0
    values[0:10, 0:10] = 0.9
    values[28:32, 38:42] = 0.0
    out = fuse_maps_of_one_image(tmp_path, {"gradcam": values, "shap": values},
                                 threshold=0.5, region="central")
    for stage in out:
        mask = read_mask(out[stage] / "ISIC_1.png")
        assert mask.sum() == 400 and mask[20:40, 30:50].all(), stage
