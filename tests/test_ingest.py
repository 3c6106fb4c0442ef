"""Ingest: layout validation errors name the file; the split is lesion-grouped and keeps classes."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pandas as pd
import pytest

from conftest import write_tiny_release
from xaicut import CLASSES
from xaicut.ingest import MANIFEST_COLUMNS, DatasetError, assign_splits, build_manifest
from xaicut.io import write_mask


def test_manifest_columns_paths_and_sizes(tiny_release):
    manifest = build_manifest(tiny_release, val=0.2, test=0.2, seed=1)
    assert tuple(manifest.columns) == MANIFEST_COLUMNS
    assert len(manifest) == 7 * 4 * 2
    assert manifest.image_id.is_monotonic_increasing
    assert (manifest.width == 48).all() and (manifest.height == 36).all()
    assert all(os.path.isabs(p) and os.path.exists(p) for p in manifest.image_path)
    assert [CLASSES[i] for i in manifest.label] == manifest.dx.tolist()


def test_split_has_no_lesion_leakage_and_every_class_everywhere(tiny_release):
    manifest = build_manifest(tiny_release, val=0.2, test=0.2, seed=3)
    assert (manifest.groupby("lesion_id").split.nunique() == 1).all()
    present = manifest.groupby("split").dx.unique().map(set)
    for split in ("train", "val", "test"):
        assert present[split] == set(CLASSES)


def test_split_fractions_follow_config_on_a_large_table():
    rng = np.random.default_rng(0)
    n = 5000
    frame = pd.DataFrame({
        "lesion_id": [f"L{i // 2}" for i in range(n)],
        "dx": [CLASSES[(i // 2) % 7] if i % 10 else "nv" for i in range(n)],
    })
    frame["dx"] = frame.groupby("lesion_id").dx.transform("first")
    split = assign_splits(frame, val=0.0202, test=0.18, seed=int(rng.integers(100)))
    shares = split.value_counts(normalize=True)
    assert shares["test"] == pytest.approx(0.18, abs=0.01)
    assert shares["val"] == pytest.approx(0.0202, abs=0.01)
    assert (frame.assign(split=split).groupby("lesion_id").split.nunique() == 1).all()


def test_split_is_seeded(tiny_release):
    a = build_manifest(tiny_release, val=0.2, test=0.2, seed=5).split
    b = build_manifest(tiny_release, val=0.2, test=0.2, seed=5).split
    c = build_manifest(tiny_release, val=0.2, test=0.2, seed=6).split
    assert a.equals(b)
    assert not a.equals(c)


def test_mask_of_other_size_is_named(tiny_release):
    bad = tiny_release / "HAM10000_segmentations_lesion_tschandl" / "ISIC_0000003_segmentation.png"
    write_mask(np.ones((10, 10), bool), bad)
    with pytest.raises(DatasetError, match="ISIC_0000003_segmentation.png.*differs"):
        build_manifest(tiny_release, val=0.2, test=0.2, seed=1)


def test_missing_mask_and_unknown_dx_are_named(tiny_release):
    (tiny_release / "HAM10000_segmentations_lesion_tschandl" / "ISIC_0000004_segmentation.png").unlink()
    with pytest.raises(DatasetError, match="ISIC_0000004_segmentation.png: mask missing"):
        build_manifest(tiny_release, val=0.2, test=0.2, seed=1)
    meta_path = tiny_release / "HAM10000_metadata.csv"
    meta = pd.read_csv(meta_path)
    meta.loc[0, "dx"] = "melanoma"
    meta.to_csv(meta_path, index=False)
    with pytest.raises(DatasetError, match="unknown dx 'melanoma'"):
        build_manifest(tiny_release, val=0.2, test=0.2, seed=1)


def test_duplicate_image_id_and_missing_column(tmp_path):
    root = tmp_path / "ham"
    meta = write_tiny_release(root, lesions_per_class=1, images_per_lesion=1)
    pd.concat([meta, meta.iloc[:1]]).to_csv(root / "HAM10000_metadata.csv", index=False)
    with pytest.raises(DatasetError, match="duplicate image_id ISIC_0000000"):
        build_manifest(root, val=0.2, test=0.2, seed=1)
    meta.drop(columns="dx").to_csv(root / "HAM10000_metadata.csv", index=False)
    with pytest.raises(DatasetError, match=r"missing column\(s\) \['dx'\]"):
        build_manifest(root, val=0.2, test=0.2, seed=1)


def test_non_binary_mask_and_unreadable_image(tiny_release):
    grey = np.full((36, 48), 128, np.uint8)
    cv2.imwrite(str(tiny_release / "HAM10000_segmentations_lesion_tschandl" / "ISIC_0000005_segmentation.png"), grey)
    (tiny_release / "HAM10000_images_part_1" / "ISIC_0000006.jpg").write_bytes(b"")
    with pytest.raises(DatasetError) as err:
        build_manifest(tiny_release, val=0.2, test=0.2, seed=1)
    assert "ISIC_0000005_segmentation.png: mask is not single-channel binary" in str(err.value)
    assert "ISIC_0000006.jpg: image not readable" in str(err.value)
