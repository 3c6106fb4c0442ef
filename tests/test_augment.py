"""Augment: inverse-frequency copies, seeded output, test never augmented, dataset-B columns."""

from __future__ import annotations

import pandas as pd

from xaicut.augment import DATASET_B_COLUMNS, build_dataset_b, copies_per_image
from xaicut.ingest import build_manifest
from xaicut.io import read_rgb


def test_copies_follow_inverse_class_frequency():
    counts = pd.Series({"nv": 600, "mel": 100, "df": 10})
    copies = copies_per_image(counts, target_fraction=1.0, max_copies=20)
    assert copies["nv"] == 0
    assert copies["mel"] == 5          # 600 / 100 - 1
    assert copies["df"] == 20          # 59 capped at 20
    assert copies_per_image(counts, 0.5, 100)["df"] == 29


def test_dataset_b_balances_train_and_val_only(tiny_release, tmp_path):
    manifest = build_manifest(tiny_release, val=0.2, test=0.2, seed=1)
    # Make nv the majority so other classes get copies.
    extra = manifest[manifest.dx == "nv"].assign(split="train")
    manifest = pd.concat([manifest] + [extra.assign(image_id=extra.image_id + f"x{k}")
                                       for k in range(3)])
    dataset = build_dataset_b(manifest, tmp_path / "aug", enabled=True, target_fraction=1.0,
                              max_copies=5, seed=7)
    assert tuple(dataset.columns) == DATASET_B_COLUMNS
    augmented = dataset[dataset.augmented]
    assert set(augmented.split) <= {"train", "val"}
    assert not dataset[(dataset.split == "test")].augmented.any()
    assert (dataset.split == "test").sum() == (manifest.split == "test").sum()
    train = dataset[dataset.split == "train"].dx.value_counts()
    before = manifest[manifest.split == "train"].dx.value_counts()
    assert (train.drop("nv") > before.drop("nv")).all()
    assert train["nv"] == before["nv"]
    assert train.max() / train.min() < before.max() / before.min()
    first = augmented.iloc[0]
    assert read_rgb(first.image_path).shape == read_rgb(
        manifest.set_index("image_id").loc[first.source_image_id, "image_path"]).shape


def test_augmentation_is_seeded(tiny_release, tmp_path):
    manifest = build_manifest(tiny_release, val=0.2, test=0.2, seed=1)
    manifest.loc[manifest.dx == "nv", "split"] = "train"
    runs = [build_dataset_b(manifest, tmp_path / f"aug{i}", True, 1.0, 2, seed=s)
            for i, s in enumerate((3, 3, 4))]
    pixels = [read_rgb(r[r.augmented].iloc[0].image_path) for r in runs]
    assert (pixels[0] == pixels[1]).all()
    assert not (pixels[0] == pixels[2]).all()
