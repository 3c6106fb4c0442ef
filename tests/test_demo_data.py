"""Demo generator: HAM10000 layout, seeded bytes, class shares, class visible only in the lesion."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from scipy.stats import f_oneway

from xaicut import CLASSES
from xaicut.demo_data import main, write_demo_dataset
from xaicut.io import read_mask, read_rgb

COLUMNS = ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"]
HAM_LOCALIZATIONS = {"abdomen", "acral", "back", "chest", "ear", "face", "foot", "genital", "hand",
                     "lower extremity", "neck", "scalp", "trunk", "unknown", "upper extremity"}
WIDTH, HEIGHT = 160, 120


def tree_digest(root: Path) -> str:
    """SHA-256 over every file's relative path and bytes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def image_path(root: Path, image_id: str) -> Path:
    """The JPEG of ``image_id`` in a release folder."""
    return root / "HAM10000_images_part_1" / f"{image_id}.jpg"


def mask_path(root: Path, image_id: str) -> Path:
    """The lesion mask PNG of ``image_id`` in a release folder."""
    return root / "HAM10000_segmentations_lesion_tschandl" / f"{image_id}_segmentation.png"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """120 lesions at 160×120 (seed 3): (release folder, returned metadata)."""
    root = tmp_path_factory.mktemp("demo") / "a"
    return root, write_demo_dataset(root, n_lesions=120, seed=3, width=WIDTH, height=HEIGHT)


@pytest.fixture(scope="module")
def colour_stats(demo) -> pd.DataFrame:
    """Per image: mean RGB inside the mask, median RGB of skin > 3 px away from it, mask area
    share, solidity and whether it touches the image border."""
    root, meta = demo
    rows = []
    for rec in meta.itertuples():
        image = read_rgb(image_path(root, rec.image_id)).astype(float)
        mask = read_mask(mask_path(root, rec.image_id))
        far = ~cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
        contour = max(cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE)[0],
                      key=cv2.contourArea)
        rows.append({"lesion_id": rec.lesion_id, "dx": rec.dx, "area": mask.mean(),
                     "touches_border": bool(mask[[0, -1]].any() or mask[:, [0, -1]].any()),
                     "solidity": (cv2.contourArea(contour)
                                  / cv2.contourArea(cv2.convexHull(contour))),
                     **{f"in{c}": v for c, v in enumerate(image[mask].mean(0))},
                     **{f"out{c}": v for c, v in enumerate(np.median(image[far], 0))}})
    return pd.DataFrame(rows)


def test_release_layout_and_metadata_vocabulary(demo):
    root, meta = demo
    assert sorted(p.name for p in root.iterdir()) == [
        "HAM10000_images_part_1", "HAM10000_metadata.csv", "HAM10000_segmentations_lesion_tschandl"]
    assert list(pd.read_csv(root / "HAM10000_metadata.csv").columns) == COLUMNS
    assert list(meta.columns) == COLUMNS
    assert meta.lesion_id.str.fullmatch(r"HAM_\d{7}").all()
    assert meta.image_id.str.fullmatch(r"ISIC_\d{7}").all()
    numbers = meta.image_id.str[5:].astype(int)
    assert numbers.is_unique and (np.diff(numbers) == 1).all()
    assert set(meta.dx_type) <= {"histo", "follow_up", "consensus", "confocal"}
    assert meta.age.dtype == float and (meta.age % 5 == 0).all() and meta.age.between(5, 85).all()
    assert set(meta.sex) <= {"male", "female"} and set(meta.localization) <= HAM_LOCALIZATIONS
    assert {p.stem for p in (root / "HAM10000_images_part_1").iterdir()} == set(meta.image_id)
    assert ({p.name for p in (root / "HAM10000_segmentations_lesion_tschandl").iterdir()}
            == {f"{i}_segmentation.png" for i in meta.image_id})


def test_images_are_rgb_and_masks_binary_of_the_same_size(demo):
    root, meta = demo
    for image_id in meta.image_id[:40]:
        image = cv2.imread(str(image_path(root, image_id)), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(str(mask_path(root, image_id)), cv2.IMREAD_UNCHANGED)
        assert image.shape == (HEIGHT, WIDTH, 3) and mask.shape == (HEIGHT, WIDTH)
        assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 255}


def test_every_class_present_with_ham10000_imbalance(demo):
    _, meta = demo
    lesions = meta.drop_duplicates("lesion_id")
    assert lesions.lesion_id.nunique() == 120
    per_class = lesions.dx.value_counts()
    assert set(per_class.index) == set(CLASSES) and (per_class >= 3).all()
    assert per_class.idxmax() == "nv" and per_class["nv"] > 0.4 * len(lesions)   # expected ~58 %
    assert meta.dx.value_counts().idxmax() == "nv"


def test_some_lesions_are_photographed_two_or_three_times(demo, colour_stats):
    root, meta = demo
    photos = meta.groupby("lesion_id").size()
    assert photos.max() <= 3 and 0.1 < (photos > 1).mean() < 0.35
    assert (meta.groupby("lesion_id")[["dx", "age", "sex", "localization"]].nunique()
            == 1).all().all()
    repeated = photos[photos > 1].index[0]
    ids = meta.image_id[meta.lesion_id == repeated].tolist()
    assert image_path(root, ids[0]).read_bytes() != image_path(root, ids[1]).read_bytes()
    per_lesion = colour_stats.groupby("lesion_id").agg(
        low=("area", "min"), high=("area", "max"), clipped=("touches_border", "any"))
    whole = per_lesion.loc[photos[photos > 1].index].query("not clipped")
    assert len(whole) >= 5 and (whole.high / whole.low < 1.45).all()   # ±8 % zoom: at most 1.38


def test_no_repeats_when_repeat_fraction_is_zero_and_few_lesions_work(tmp_path):
    meta = write_demo_dataset(tmp_path, n_lesions=6, seed=0, width=64, height=48,
                              repeat_fraction=0.0)
    assert len(meta) == 6 and meta.lesion_id.is_unique
    with pytest.raises(ValueError):
        write_demo_dataset(tmp_path / "none", n_lesions=0, seed=0)


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        write_demo_dataset(tmp_path / name, n_lesions=12, seed=seed, width=WIDTH, height=HEIGHT)
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    assert tree_digest(tmp_path / "a") != tree_digest(tmp_path / "c")


def test_lesion_sizes_vary_and_some_cross_the_border(colour_stats):
    assert colour_stats.area.min() < 0.1 and colour_stats.area.max() > 0.4
    assert 0.05 < colour_stats.touches_border.mean() < 0.6


def test_lesions_stand_out_from_skin(colour_stats):
    inside = colour_stats[["in0", "in1", "in2"]].to_numpy()
    outside = colour_stats[["out0", "out1", "out2"]].to_numpy()
    assert (inside.mean(1) < outside.mean(1)).mean() > 0.95          # lesions are darker
    per_class = colour_stats.assign(dark=outside.mean(1) - inside.mean(1)).groupby("dx").dark.mean()
    assert (per_class > 10).all(), per_class
    assert np.median(np.linalg.norm(inside - outside, axis=1)) > 40


def test_class_is_visible_only_inside_the_lesion(colour_stats):
    """One-way ANOVA over classes on per-lesion colour: strong inside, absent outside (F ~ 1)."""
    lesions = colour_stats.groupby("lesion_id").agg({"dx": "first", **{
        f"{side}{c}": "mean" for side in ("in", "out") for c in range(3)}})
    for channel in range(3):
        groups = [lesions[lesions.dx == dx] for dx in CLASSES]
        f_inside = f_oneway(*[g[f"in{channel}"] for g in groups]).statistic
        f_outside = f_oneway(*[g[f"out{channel}"] for g in groups]).statistic
        assert f_inside > 15 and f_outside < 5 and f_inside > 8 * f_outside, (channel, f_inside,
                                                                              f_outside)
    class_means = lesions.groupby("dx").mean()
    spread_in = class_means[["in0", "in1", "in2"]].std().mean()
    spread_out = class_means[["out0", "out1", "out2"]].std().mean()
    assert spread_in > 2 * spread_out


def test_melanoma_borders_are_less_regular_than_naevus_borders(colour_stats):
    solidity = colour_stats.groupby("dx").solidity.mean()
    assert solidity["mel"] < solidity["nv"] - 0.03


def test_full_size_images_are_fast_and_match_ham10000_geometry(tmp_path):
    start = time.perf_counter()
    meta = write_demo_dataset(tmp_path, n_lesions=6, seed=1)
    seconds_per_image = (time.perf_counter() - start) / len(meta)
    assert seconds_per_image < 0.4  # target ~0.06 s; generous for a loaded CI machine
    image = read_rgb(image_path(tmp_path, meta.image_id[0]))
    assert image.shape == (450, 600, 3)
    assert read_mask(mask_path(tmp_path, meta.image_id[0])).shape == (450, 600)


def test_cli_writes_the_dataset_and_logs_it(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="xaicut.demo_data"):
        main([str(tmp_path / "cli"), "--n-lesions", "4", "--seed", "2", "--width", "64",
              "--height", "48"])
    meta = pd.read_csv(tmp_path / "cli" / "HAM10000_metadata.csv")
    assert meta.lesion_id.nunique() == 4
    assert re.search(rf"wrote {len(meta)} demo images", caplog.text)
