"""A user's own collection: masks optional (none, some, or required), the plain layout with its
own class names, and the label-free confidence and export of one mask per image."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xaicut.attribution_store import AttributionMap, attribution_path, write_attribution
from xaicut.classes import class_names
from xaicut.confidence import colour_separation, segmentation_confidence, solidity
from xaicut.export import (
    EXPORT_COLUMNS,
    ExportPlan,
    auto_export_stage,
    export_segmentations,
    exported_mask_name,
)
from xaicut.ingest import MASK_DIR, DatasetError, ingest_release
from xaicut.io import read_mask, write_csv, write_image, write_mask
from xaicut.layout import Layout


def ingest(root: Path, **options) -> pd.DataFrame:
    return ingest_release(root, val=0.2, test=0.2, seed=1, **options).manifest


def test_a_release_without_masks_folder_is_ingested_with_has_mask_false(tiny_release):
    shutil.rmtree(tiny_release / MASK_DIR)
    manifest = ingest(tiny_release)
    assert len(manifest) == 56 and not manifest.has_mask.any()
    assert (manifest.mask_path.fillna("") == "").all()
    assert set(manifest.split) == {"train", "val", "test"}


def test_masks_for_some_images_mark_exactly_those(tiny_release):
    masks = sorted((tiny_release / MASK_DIR).glob("*.png"))
    for path in masks[::3]:
        path.unlink()
    manifest = ingest(tiny_release).set_index("image_id")
    kept = {p.name.removesuffix("_segmentation.png") for p in masks[1::3] + masks[2::3]}
    assert set(manifest.index[manifest.has_mask]) == kept
    assert all(Path(p).is_file() for p in manifest.mask_path[manifest.has_mask])


def test_masks_required_stops_at_once_on_a_folder_without_masks(tiny_release):
    shutil.rmtree(tiny_release / MASK_DIR)
    with pytest.raises(DatasetError, match="masks: required") as err:
        ingest(tiny_release, masks="required")
    assert str(tiny_release / MASK_DIR) in str(err.value)


def test_masks_required_names_each_image_without_one(tiny_release):
    victim = tiny_release / MASK_DIR / "ISIC_0000005_segmentation.png"
    victim.unlink()
    assert not ingest(tiny_release).set_index("image_id").has_mask["ISIC_0000005"]
    with pytest.raises(DatasetError,
                       match=r"ISIC_0000005_segmentation.png: mask missing \(masks: required\)"):
        ingest(tiny_release, masks="required")


def test_a_broken_mask_is_still_a_problem_when_masks_are_optional(tiny_release):
    (tiny_release / MASK_DIR / "ISIC_0000005_segmentation.png").write_bytes(b"")
    with pytest.raises(DatasetError, match="mask not decodable"):
        ingest(tiny_release)


def write_plain_collection(root: Path, labels: dict[str, str], png: set[str]) -> None:
    """The plain layout: images/ (JPEG or PNG), metadata.csv with image_id and a diagnosis
    column."""
    rng = np.random.default_rng(0)
    for image_id in labels:
        image = rng.integers(0, 255, (30, 40, 3)).astype(np.uint8)
        write_image(image, root / "images" / f"{image_id}.{'png' if image_id in png else 'jpg'}")
    write_csv(pd.DataFrame({"image_id": list(labels), "diagnosis": list(labels.values())}),
              root / "metadata.csv")


def test_the_plain_layout_takes_its_class_names_from_the_data(tmp_path):
    labels = {f"photo{i:02d}": ("benign", "malignant", "unsure")[i % 3] for i in range(18)}
    write_plain_collection(tmp_path, labels, png={"photo01", "photo05"})
    write_mask(np.ones((30, 40), bool), tmp_path / "masks" / "photo02_segmentation.png")
    manifest = ingest(tmp_path, label_column="diagnosis")
    assert len(manifest) == 18
    assert class_names(manifest.dx) == ["benign", "malignant", "unsure"]
    assert [class_names(manifest.dx)[i] for i in manifest.label] == manifest.dx.tolist()
    assert (manifest.lesion_id == manifest.image_id).all()
    assert manifest.set_index("image_id").has_mask.to_dict() == {i: i == "photo02" for i in labels}
    assert manifest.image_path.str.endswith(".png").sum() == 2
    with pytest.raises(DatasetError, match="missing column"):
        ingest(tmp_path)   # no dx column: the label column must be named


def test_a_folder_with_no_known_metadata_file_names_both(tmp_path):
    with pytest.raises(DatasetError, match=r"HAM10000_metadata.csv: metadata file not found "
                                           r"\(nor .*/metadata.csv of the plain layout\)"):
        ingest(tmp_path)


def test_class_names_are_sorted_and_skip_unlabelled():
    assert class_names(["nv", "mel", "", float("nan"), "nv", "akiec"]) == ["akiec", "mel", "nv"]


def disc(shape=(40, 60), centre=(20, 30), radius=10) -> np.ndarray:
    rows, cols = np.indices(shape)
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 < radius ** 2


def lesion_image(mask: np.ndarray, seed: int = 0) -> np.ndarray:
    """Noisy skin (RGB 200, 160, 140) with a brown lesion (110, 70, 50) where ``mask`` holds."""
    rng = np.random.default_rng(seed)
    image = (np.where(mask[..., None], [110, 70, 50], [200, 160, 140])
             + rng.normal(0, 8, (*mask.shape, 3)))
    return np.clip(image, 0, 255).astype(np.uint8)


def test_confidence_is_high_for_a_compact_distinct_lesion_and_low_otherwise():
    lesion = disc()
    image = lesion_image(lesion)
    good = segmentation_confidence(lesion, image)
    leaky = lesion.copy()
    leaky[19:21, :] = True                          # the cut runs out along a hair: not convex
    skin = disc(centre=(20, 52), radius=6) & ~lesion  # skin-coloured pixels only
    assert good > 0.9
    assert segmentation_confidence(leaky, image) < 0.8 * good
    assert segmentation_confidence(skin, image) < 0.5
    assert segmentation_confidence(np.zeros_like(lesion), image) == 0.0
    assert segmentation_confidence(np.ones_like(lesion), image) == 0.0


def test_confidence_cues():
    lesion = disc()
    assert solidity(lesion) == pytest.approx(1.0, abs=0.05)
    assert solidity(np.zeros_like(lesion)) == 0.0
    assert colour_separation(lesion_image(lesion), lesion) > 3.0
    assert colour_separation(np.full((*lesion.shape, 3), 128, np.uint8), lesion) == pytest.approx(
        0.0, abs=1e-9)


def test_export_writes_one_named_mask_per_image_and_the_table(tmp_path):
    rows = pd.DataFrame({"image_id": ["ISIC_1", "ISIC_2"], "dx": ["mel", ""],
                         "split": ["test", "test"], "label": [1, -1],
                         "image_path": [str(tmp_path / "images" / f"ISIC_{i}.png")
                                        for i in (1, 2)]})
    for path in rows.image_path:
        write_image(lesion_image(disc()), path)
    layout = Layout(tmp_path / "results")
    for image_id in rows.image_id:
        write_mask(disc(), layout.masks("v", "graphcut", "test000") / f"{image_id}.png")
    for image_id, predicted in (("ISIC_1", 1), ("ISIC_2", 0)):
        write_attribution(AttributionMap(image_id, "gradcam", np.zeros((40, 60), np.float32), 1,
                                         "mel", predicted, 0.75, 1, "sha"),
                          attribution_path(layout.attribution("v", "test000"), image_id, "gradcam"))
    write_csv(pd.DataFrame({"image_id": ["ISIC_1", "ISIC_2"], "stage": "graphcut",
                            "status": ["ok", "small_seed"]}), tmp_path / "status.csv")
    plan = ExportPlan("v", "graphcut", "gradcam", ("bcc", "mel"))
    table = export_segmentations({"test000": rows}, layout, [tmp_path / "status.csv"], plan,
                                 tmp_path / "out", tmp_path / "out.csv")
    assert list(pd.read_csv(tmp_path / "out.csv").columns) == list(EXPORT_COLUMNS)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        exported_mask_name("ISIC_1"), exported_mask_name("ISIC_2")]
    assert (read_mask(tmp_path / "out" / "ISIC_1_segmentation.png") == disc()).all()
    assert table.status.tolist() == ["ok", "small_seed"]
    assert table.predicted_dx.tolist() == ["mel", "bcc"]
    assert table.area_fraction.iloc[0] == pytest.approx(disc().mean(), abs=1e-6)
    assert 0.9 < table.confidence.iloc[0] <= 1.0


def test_auto_exports_the_students_graph_cut_only_when_the_student_learned(tmp_path):
    """The student's Dice with its teacher on held-out images, at its kept epoch (lowest
    validation loss), decides; without a student the graph cut is exported."""
    history = tmp_path / "history.csv"
    write_csv(pd.DataFrame({"epoch": [1, 2, 3], "val_loss": [0.9, 0.3, 0.5],
                            "val_dice": [0.5, 0.85, 0.95]}), history)
    assert auto_export_stage(history, 0.8) == "student_graphcut"
    assert auto_export_stage(history, 0.9) == "graphcut"     # 0.95 is not the kept epoch's
    assert auto_export_stage(None, 0.0) == "graphcut"
