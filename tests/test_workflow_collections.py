"""Integration: the whole workflow on the collections users bring — masks for some images only,
none at all, the plain layout with its own class names — on the smallest config that shows it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import REPO
from test_workflow import RUN, SNAKEMAKE, documented_columns, run
from xaicut.demo_data import write_demo_dataset
from xaicut.export import EXPORT_COLUMNS
from xaicut.ingest import MASK_DIR
from xaicut.io import write_csv

SMALL = {
    "threads": 1,   # one core per torch job: two jobs share the two cores
    "split": {"val": 0.2, "test": 0.3},
    "augment": {"enabled": False},
    "train": {"input_size": 32, "epochs": 1, "batch_size": 16, "lr": 0.01},
    "variants": {"plain": {"cbam": False}, "cbam": None},
    "attribute": {"methods": ["gradcam"], "shard_size": 40, "deletion_fractions": []},
    "seeding": {"modes": ["consensus", "otsu"]},
    "segment": {"working_size": 0, "max_iterations": 2},
    "unet": {"enabled": False},
    # the student is exported, so the guard that no label-only output reads a mask covers it
    "student": {"input_size": 32, "epochs": 2, "batch_size": 16},
    "export": {"stage": "student_graphcut"},
}
N_LESIONS = 50


def write_small_config(path: Path, data: Path, results: Path, **sections) -> Path:
    path.write_text(yaml.safe_dump({**SMALL, **sections, "data_dir": str(data),
                                    "results_dir": str(results)}))
    return path


@pytest.fixture(scope="module")
def demo_release(tmp_path_factory) -> Path:
    """A small demo release (HAM10000 layout, 64x48 images) with masks for 30 % of its images."""
    root = tmp_path_factory.mktemp("partial") / "ham"
    write_demo_dataset(root, N_LESIONS, seed=3, width=64, height=48)
    masks = sorted((root / MASK_DIR).glob("*.png"))
    rng = np.random.default_rng(0)
    for path in rng.permutation(masks)[: int(0.7 * len(masks))]:
        path.unlink()
    return root


@pytest.fixture(scope="module")
def partial_run(demo_release, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("partial_run")
    run(write_small_config(tmp / "config.yaml", demo_release, tmp / "results"))
    return tmp / "results"


def exported(results: Path, run_name: Path = RUN) -> tuple[pd.DataFrame, list[Path]]:
    folder = results / run_name / "segmentations"
    return pd.read_csv(results / run_name / "segmentations.csv"), sorted(folder.glob("*.png"))


@pytest.mark.slow
def test_masks_for_some_images_score_exactly_those_and_export_every_image(partial_run):
    manifest = pd.read_csv(partial_run / "data" / "manifest.csv")
    masked = manifest[manifest.has_mask]
    assert 0 < len(masked) < len(manifest)
    table, files = exported(partial_run)
    assert len(table) == len(files) == len(manifest)
    assert set(table.split) == {"train", "val", "test"}
    assert [f.name for f in files] == [f"{i}_segmentation.png" for i in sorted(manifest.image_id)]
    assert list(table.columns) == list(EXPORT_COLUMNS)
    assert table.confidence.between(0, 1).all() and table.area_fraction.between(0, 1).all()
    sizes = manifest.set_index("image_id")[["height", "width"]]
    for path in files[:5]:
        mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        image_id = path.name.removesuffix("_segmentation.png")
        assert mask.shape == tuple(sizes.loc[image_id]) and set(np.unique(mask)) <= {0, 255}
    summary = pd.read_csv(partial_run / RUN / "metrics" / "summary.csv")
    assert (summary.n_images == int((masked.split == "test").sum())).all()
    by_split = pd.read_csv(partial_run / RUN / "metrics" / "segmentations_by_split.csv")
    assert by_split.set_index("split").n_images.to_dict() == masked.split.value_counts().to_dict()
    documented = documented_columns("## 6b.")
    assert list(by_split.columns) == documented["metrics/segmentations_by_split.csv"]
    assert list(table.columns) == documented["segmentations.csv"]
    html = (partial_run / RUN / "report" / "report.html").read_text()
    assert (f"{len(masked)} of {len(manifest)} images have a ground-truth mask; "
            "scores use those only") in html
    assert "least confident" in html


PLAIN_NAMES = {"akiec": "actinic keratosis", "bcc": "basal cell carcinoma",
               "bkl": "benign keratosis", "df": "dermatofibroma", "mel": "melanoma",
               "nv": "naevus", "vasc": "vascular lesion"}
"""Non-HAM class names of the plain collection, sorted like the codes they stand for (class
indices follow the sorted names), so that it trains exactly what the HAM10000 layout trains."""


@pytest.fixture(scope="module")
def plain_run(demo_release, tmp_path_factory) -> tuple[pd.DataFrame, Path]:
    """The demo release in the plain layout (images/ + metadata.csv with its lesion ids and a
    'diagnosis' column of PLAIN_NAMES), no masks folder, run end to end: (metadata, results)."""
    tmp = tmp_path_factory.mktemp("plain_run")
    plain = tmp / "plain"
    (plain / "images").mkdir(parents=True)
    meta = pd.read_csv(demo_release / "HAM10000_metadata.csv")
    for image_id in meta.image_id:
        shutil.copy(demo_release / "HAM10000_images_part_1" / f"{image_id}.jpg", plain / "images")
    write_csv(pd.DataFrame({"image_id": meta.image_id, "lesion_id": meta.lesion_id,
                            "diagnosis": meta.dx.map(PLAIN_NAMES)}), plain / "metadata.csv")
    results = tmp / "results"
    run(write_small_config(tmp / "config.yaml", plain, results, label_column="diagnosis"))
    return meta, results


@pytest.mark.slow
def test_no_label_only_output_reads_a_mask(partial_run, plain_run):
    """The same images with no mask at all (plain_run) and with masks for 30 % of them
    (partial_run): the exported masks are byte-identical and their tables equal but for the
    class names, so no label-only output, the student included, reads a ground-truth mask."""
    _, results = plain_run
    ours, theirs = exported(results), exported(partial_run)
    codes = {name: code for code, name in PLAIN_NAMES.items()}
    table = ours[0].assign(dx=ours[0].dx.map(codes), predicted_dx=ours[0].predicted_dx.map(codes))
    pd.testing.assert_frame_equal(table, theirs[0])
    assert [p.name for p in ours[1]] == [p.name for p in theirs[1]]
    assert [p.read_bytes() for p in ours[1]] == [p.read_bytes() for p in theirs[1]]
    assert not pd.read_csv(results / "data" / "manifest.csv").has_mask.any()


@pytest.mark.slow
def test_a_plain_collection_without_masks_runs_end_to_end(plain_run):
    """The plain layout (images/ + metadata.csv, a 'diagnosis' column of non-HAM names), no
    masks folder: every image exported, nothing scored, the report says why."""
    meta, results = plain_run
    table, files = exported(results)
    assert len(table) == len(files) == len(meta)
    assert set(table.dx) == set(PLAIN_NAMES.values())
    assert set(table.predicted_dx) <= set(PLAIN_NAMES.values())
    checkpoint = torch.load(results / "train" / "plain" / "model.pt", weights_only=True)
    assert checkpoint["classes"] == sorted(PLAIN_NAMES.values())
    assert not (results / RUN / "metrics").exists() and not (results / "thresholds").exists()
    # Only what is asked: the student's teacher (graphcut), not the seed mode only scored.
    masks = results / RUN / "masks" / "plain"
    assert any(masks.glob("graphcut/*/*.png")) and not (masks / "graphcut_otsu").exists()
    html = (results / RUN / "report" / "report.html").read_text()
    assert f"None of the {len(meta)} images has a ground-truth mask" in html


@pytest.mark.slow
def test_masks_required_on_a_folder_without_masks_stops_before_training(demo_release, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(demo_release, bare, ignore=shutil.ignore_patterns(MASK_DIR))
    results = tmp_path / "results"
    config = write_small_config(tmp_path / "config.yaml", bare, results, masks="required")
    proc = subprocess.run([*SNAKEMAKE, "--configfile", str(config)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "masks folder not found, and the setting masks: required" in proc.stdout + proc.stderr
    assert not (results / "data" / "manifest.csv").exists() and not (results / "train").exists()


@pytest.mark.slow
def test_the_students_segment_an_external_dataset_without_retraining(partial_run, demo_release,
                                                                   tmp_path):
    """Cross-dataset: the students trained on the main dataset segment and are scored on an
    external one; with student.adapt the exported one is first fine-tuned on the dataset's own
    pseudo-labels, nothing else is trained again. Kept last: it adds a dataset to the shared
    results."""
    from conftest import write_tiny_release
    from test_workflow import executed_jobs

    meta = write_tiny_release(tmp_path / "toy", lesions_per_class=1, size=(64, 48), seed=5)
    config = write_small_config(tmp_path / "config.yaml", demo_release, partial_run,
                                external={"toy": str(tmp_path / "toy")},
                                student={**SMALL["student"], "adapt": True, "adapt_epochs": 1})
    jobs = executed_jobs(run(config))
    assert "train_student" not in jobs and "train_member" not in jobs
    assert jobs["adapt_student"] == 1
    adapted = partial_run / RUN / "external" / "toy" / "student"
    assert len(pd.read_csv(adapted / "history.csv")) == 1
    labels = pd.read_csv(adapted / "pseudo_labels.csv")
    assert len(labels) == len(meta) and labels.split.value_counts()["val"] == 1
    assert jobs["student"] == jobs["otsu_student"] == jobs["segment_image_prior"] == 1
    assert jobs["otsu"] == 1   # one Otsu baseline: the adapted student's evidence, and scored
    summary = pd.read_csv(partial_run / RUN / "external" / "toy" / "metrics" / "summary.csv")
    scored = set(zip(summary.variant, summary.stage))
    assert {("plain", "student"), ("plain", "student_graphcut"), ("image_prior", "otsu"),
            ("image_prior", "graphcut_otsu"), ("image_prior", "otsu_student"),
            ("image_prior", "otsu_student_graphcut")} <= scored
    assert ("plain", "otsu") not in scored
    assert (summary.n_images == len(meta)).all()
    exported = pd.read_csv(partial_run / RUN / "external" / "toy" / "segmentations.csv")
    assert len(exported) == len(meta) and set(exported.stage) == {"student_graphcut"}
