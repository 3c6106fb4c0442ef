"""Ingest: manifest columns and paths; the split is lesion-grouped, seeded and keeps classes.

Bad inputs are in test_bad_inputs.py."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from xaicut import CLASSES
from xaicut.ingest import (
    MANIFEST_COLUMNS,
    UNLABELLED,
    DatasetError,
    assign_splits,
    build_manifest,
    ingest_release,
)


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


def test_an_external_dataset_needs_only_image_ids(tiny_release):
    meta_path = tiny_release / "HAM10000_metadata.csv"
    meta = pd.read_csv(meta_path, dtype=str)
    meta.loc[meta.index[:5], "dx"] = ""
    meta.drop(columns="lesion_id").to_csv(meta_path, index=False)
    with pytest.raises(DatasetError, match="missing column"):
        ingest_release(tiny_release, val=0.2, test=0.2, seed=1)
    manifest = ingest_release(tiny_release, val=0.2, test=0.2, seed=1, external=True).manifest
    assert (manifest.split == "test").all() and len(manifest) == len(meta)
    assert (manifest.lesion_id == manifest.image_id).all()
    unlabelled = manifest.set_index("image_id").loc[meta.image_id[:5]]
    assert (unlabelled.label == UNLABELLED).all() and (unlabelled.dx.fillna("") == "").all()
    assert manifest.label.isin(range(len(CLASSES))).sum() == len(meta) - 5
