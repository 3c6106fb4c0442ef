"""Demo generator: HAM10000 layout, seeded bytes, class shares, class visible only in the lesion."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from xaicut import CLASSES
from xaicut.demo_data import write_demo_dataset
from xaicut.ingest import build_manifest
from xaicut.io import read_mask, read_rgb


def tree_digest(root) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    meta = write_demo_dataset(root / "a", n_lesions=120, seed=3, width=160, height=120)
    return root, meta


def test_layout_and_metadata(demo):
    root, meta = demo
    assert list(meta.columns) == ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"]
    assert meta.image_id.is_unique and set(meta.dx) == set(CLASSES)
    assert meta.dx.value_counts().idxmax() == "nv"
    assert (meta.dx.value_counts() >= 3).all()
    repeats = meta.groupby("lesion_id").size()
    assert repeats.max() <= 3 and (repeats > 1).sum() >= 5
    assert (meta.groupby("lesion_id").dx.nunique() == 1).all()
    manifest = build_manifest(root / "a", val=0.2, test=0.2, seed=0)   # ingest accepts it
    assert len(manifest) == len(meta)
    assert (manifest.width == 160).all() and (manifest.height == 120).all()


def test_same_seed_same_bytes_other_seed_differs(demo, tmp_path):
    root, _ = demo
    write_demo_dataset(tmp_path / "b", n_lesions=120, seed=3, width=160, height=120)
    write_demo_dataset(tmp_path / "c", n_lesions=120, seed=4, width=160, height=120)
    assert tree_digest(root / "a") == tree_digest(tmp_path / "b")
    assert tree_digest(root / "a") != tree_digest(tmp_path / "c")


def test_class_is_visible_only_inside_the_lesion(demo):
    root, meta = demo
    inside, outside = {dx: [] for dx in CLASSES}, {dx: [] for dx in CLASSES}
    for rec in meta.itertuples():
        image = read_rgb(root / "a" / "HAM10000_images_part_1" / f"{rec.image_id}.jpg").astype(float)
        mask = read_mask(root / "a" / "HAM10000_segmentations_lesion_tschandl" / f"{rec.image_id}_segmentation.png")
        assert 0 < mask.sum() < mask.size
        inside[rec.dx].append(image[mask].mean(0))
        outside[rec.dx].append(np.median(image[~mask], 0))
    spread_in = np.std([np.mean(inside[dx], 0) for dx in CLASSES], 0).mean()
    spread_out = np.std([np.mean(outside[dx], 0) for dx in CLASSES], 0).mean()
    assert spread_in > 4 * spread_out
    lesion = np.mean([v for dx in CLASSES for v in inside[dx]], 0)
    skin = np.mean([v for dx in CLASSES for v in outside[dx]], 0)
    assert lesion.mean() < skin.mean() - 20       # lesions are darker than skin
