"""Tests of xaicut.report on a tiny fake results tree laid out as in docs/data-contracts.md."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xaicut import CLASSES, report
from xaicut.attribution_store import AttributionMap, attribution_path, write_attribution
from xaicut.io import write_csv, write_image, write_mask
from xaicut.report import build_report, main, pick_examples

WIDTH, HEIGHT = 60, 45
IMAGES = {  # image_id: (dx, shard, predicted dx)
    "ISIC_0000001": ("mel", "shard000", "mel"),
    "ISIC_0000002": ("nv", "shard000", "nv"),
    "ISIC_0000003": ("bcc", "shard001", "nv"),
    "ISIC_0000004": ("nv", "shard001", "nv"),
}
STAGES = ("gradcam", "shap", "fused", "graphcut", "otsu")
SUMMARY_MARKER = 0.4321  # graphcut dice_median in summary.csv; must show as 0.432
SUMMARY_COLUMNS = ["n_images", "dice_mean", "dice_median", "jaccard_mean", "jaccard_median",
                   "accuracy_mean", "sensitivity_mean", "specificity_mean"]
SECTION_TITLES = ("Segmentation summary", "Segmentation per class", "Classifier", "Examples",
                  "Dice distributions per stage")


def ellipse_mask(cx: int, cy: int, rx: int, ry: int) -> np.ndarray:
    """A boolean HEIGHT × WIDTH ellipse."""
    y, x = np.mgrid[:HEIGHT, :WIDTH]
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1


def write_inputs(root: Path, image_id: str, k: int) -> tuple[Path, Path]:
    """Write a fake lesion image and its ground truth under ``root/demo_data``."""
    truth = ellipse_mask(28 + k, 22, 14, 10)
    image = np.full((HEIGHT, WIDTH, 3), (200, 160, 140), np.uint8)
    image[truth] = (110, 60, 50)
    image_path = root / "demo_data" / "HAM10000_images_part_1" / f"{image_id}.jpg"
    mask_path = root / "demo_data" / "HAM10000_segmentations_lesion_tschandl" / \
        f"{image_id}_segmentation.png"
    write_image(image, image_path)
    write_mask(truth, mask_path)
    return image_path, mask_path


def write_stage_outputs(root: Path, image_id: str, dx: str, shard: str, predicted: str, k: int
                        ) -> None:
    """Write the attribution maps (gradcam, shap) and the masks of every stage of one image."""
    y, x = np.mgrid[:HEIGHT, :WIDTH]
    for method in ("gradcam", "shap"):
        values = np.exp(-(((x - 30 - k) / 12) ** 2 + ((y - 22) / 9) ** 2)).astype(np.float32)
        item = AttributionMap(
            image_id=image_id, method=method, values=values / values.max(),
            target_class=CLASSES.index(predicted), target_dx=predicted,
            predicted_class=CLASSES.index(predicted), predicted_probability=0.9,
            true_class=CLASSES.index(dx), checkpoint_sha256="0" * 64,
            method_params={"layer": "layer4"},
        )
        write_attribution(item, attribution_path(root / "attribution" / shard, image_id, method))
    for j, stage in enumerate(STAGES):
        mask = ellipse_mask(30 + k, 22, 10 + j, 8)
        write_mask(mask, root / "masks" / stage / shard / f"{image_id}.png")


REJECTED_PROBLEM = "image file is empty (0 bytes)"


def metric_row(dice: float) -> dict[str, float]:
    """Made-up metric values derived from a Dice score."""
    return {"dice": dice, "jaccard": dice / (2 - dice), "accuracy": 0.9,
            "sensitivity": 0.8, "specificity": 0.95}


def write_tables(root: Path, paths: dict[str, tuple[Path, Path]]) -> None:
    """Write every CSV of the contracts doc that the report reads."""
    ids = sorted(IMAGES)
    write_csv(pd.DataFrame([
        {"image_id": i, "lesion_id": f"HAM_{k:07d}", "dx": IMAGES[i][0],
         "label": CLASSES.index(IMAGES[i][0]), "split": "test", "image_path": str(paths[i][0]),
         "mask_path": str(paths[i][1]), "width": WIDTH, "height": HEIGHT}
        for k, i in enumerate(ids)
    ]), root / "data" / "manifest.csv")
    write_csv(pd.DataFrame([{"image_id": "ISIC_0099999", "file": "/data/ISIC_0099999.jpg",
                             "problem": REJECTED_PROBLEM}]), root / "data" / "rejected.csv")
    per_image = pd.DataFrame([
        {"image_id": i, "dx": IMAGES[i][0], "stage": s, **metric_row(0.2 + 0.15 * k + 0.03 * j)}
        for k, i in enumerate(ids) for j, s in enumerate(STAGES)
    ])
    write_csv(per_image, root / "metrics" / "per_image.csv")
    summary = [{"stage": s, **dict(zip(SUMMARY_COLUMNS, [4, 0.5 + 0.05 * j, 0.5, 0.4, 0.4,
                                                          0.9, 0.8, 0.95]))}
               for j, s in enumerate(STAGES)]
    summary[STAGES.index("graphcut")]["dice_median"] = SUMMARY_MARKER
    write_csv(pd.DataFrame(summary), root / "metrics" / "summary.csv")
    per_class = [{"dx": dx, **row} for dx in ("bcc", "mel", "nv") for row in summary]
    write_csv(pd.DataFrame(per_class), root / "metrics" / "summary_per_class.csv")
    write_csv(pd.DataFrame([
        {"image_id": i, "dx": IMAGES[i][0], "label": CLASSES.index(IMAGES[i][0]),
         "predicted_label": CLASSES.index(IMAGES[i][2]), "predicted_dx": IMAGES[i][2],
         "probability": 0.9} for i in ids
    ]), root / "train" / "test_predictions.csv")
    write_csv(pd.DataFrame({
        "epoch": [1, 2, 3], "train_loss": [1.2, 0.8, 0.6], "train_accuracy": [0.5, 0.7, 0.8],
        "val_loss": [1.3, 0.9, 0.8], "val_accuracy": [0.45, 0.6, 0.7], "lr": [1e-3, 1e-3, 1e-4],
    }), root / "train" / "history.csv")
    report_rows = [{"class": dx, "precision": 0.8, "recall": 0.7, "f1_score": 0.75, "support": 1}
                   for dx in CLASSES]
    report_rows += [{"class": "accuracy", "f1_score": 0.75, "support": 4},
                    {"class": "macro avg", "precision": 0.6, "recall": 0.6, "f1_score": 0.6,
                     "support": 4},
                    {"class": "weighted avg", "precision": 0.7, "recall": 0.75, "f1_score": 0.72,
                     "support": 4},
                    {"class": "test loss", "precision": 0.61}]
    write_csv(pd.DataFrame(report_rows), root / "train" / "classification_report.csv")


def make_results(root: Path) -> Path:
    """Build the fake results tree under ``root`` and return it."""
    paths = {}
    for k, (image_id, (dx, shard, predicted)) in enumerate(sorted(IMAGES.items())):
        paths[image_id] = write_inputs(root, image_id, k)
        write_stage_outputs(root, image_id, dx, shard, predicted, k)
    write_tables(root, paths)
    return root


def test_report_lists_the_inputs_ingest_left_out(report_html):
    assert "Inputs left out by ingest: 1" in report_html and REJECTED_PROBLEM in report_html


REPORT_OPTIONS = {"n_examples": 3, "config": {"fuse": {"mode": "and"}}}


@pytest.fixture(scope="module")
def complete_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The complete fake tree with its report at ``report/report.html``."""
    results = make_results(tmp_path_factory.mktemp("results"))
    build_report(results, results / "report" / "report.html", **REPORT_OPTIONS)
    return results


@pytest.fixture(scope="module")
def report_html(complete_results: Path) -> str:
    """The report of the complete fake tree, as text."""
    return (complete_results / "report" / "report.html").read_text(encoding="utf-8")


def test_report_is_self_contained(report_html: str) -> None:
    assert "data:image/png;base64," in report_html
    assert 'src="http' not in report_html
    sources = re.findall(r'(?:src|href)="([^"]*)"', report_html)
    assert sources and all(s.startswith(("data:image/png;base64,", "#")) for s in sources)


def test_report_shows_stages_sections_and_values(report_html: str) -> None:
    for name in (*STAGES, *SECTION_TITLES):
        assert name in report_html
    assert f"<td>{SUMMARY_MARKER:.3f}</td>" in report_html
    assert "<td>weighted avg</td>" in report_html
    assert "<details>" in report_html and "&quot;mode&quot;: &quot;and&quot;" in report_html
    assert "Test images: 4." in report_html


def test_report_is_reproducible(complete_results: Path, tmp_path: Path) -> None:
    build_report(complete_results, tmp_path / "again.html", **REPORT_OPTIONS)
    first = complete_results / "report" / "report.html"
    assert (tmp_path / "again.html").read_bytes() == first.read_bytes()


@pytest.mark.parametrize("drop_stage", [False, True], ids=["maps-missing", "stage-absent"])
def test_report_without_shap(tmp_path: Path, drop_stage: bool) -> None:
    results = make_results(tmp_path)
    for path in results.glob("attribution/*/*_shap.h5"):
        path.unlink()
    if drop_stage:
        for path in results.glob("masks/shap/*/*.png"):
            path.unlink()
        for name in ("metrics/per_image.csv", "metrics/summary.csv",
                     "metrics/summary_per_class.csv"):
            table = pd.read_csv(results / name)
            write_csv(table[table["stage"] != "shap"], results / name)
    build_report(results, tmp_path / "report.html", n_examples=2)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "SHAP map: no input found" in html
    assert "data:image/png;base64," in html
    assert ("<td>shap</td>" in html) is not drop_stage


def test_report_without_optional_tables(tmp_path: Path) -> None:
    results = make_results(tmp_path)
    optional = ("train/history.csv", "train/test_predictions.csv", "metrics/summary_per_class.csv")
    for name in optional:
        (results / name).unlink()
    main([str(results), str(tmp_path / "report.html"), "--n-examples", "2"])
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Skipped: train/history.csv not found" in html
    assert "Skipped: metrics/summary_per_class.csv not found" in html
    assert "Examples" in html


def test_pick_examples_spans_the_dice_range() -> None:
    per_image = pd.DataFrame({
        "image_id": [f"ISIC_{k:07d}" for k in range(10)],
        "stage": "graphcut",
        "dice": np.linspace(0.0, 0.9, 10),
    })
    picked = pick_examples(per_image, 3, "graphcut")
    assert picked == ["ISIC_0000009", "ISIC_0000005", "ISIC_0000000"]
    assert pick_examples(per_image, 50, "graphcut")[-1] == "ISIC_0000000"
    assert len(pick_examples(per_image, 50, "graphcut")) == 10
    assert pick_examples(per_image, 0, "graphcut") == []


def split_into_variants(results: Path, variants: tuple[str, str]) -> None:
    """Turn a flat fake tree into the variant layout: per-variant stage folders, run tables
    with a ``variant`` column; the second variant scores 0.1 less Dice everywhere."""
    import shutil

    for folder in ("train", "attribution", "masks"):
        flat = results / folder
        shutil.move(flat, results / f"{folder}.flat")
        for variant in variants:
            shutil.copytree(results / f"{folder}.flat", flat / variant)
    for name in ("metrics/per_image.csv", "metrics/summary.csv", "metrics/summary_per_class.csv"):
        table = pd.read_csv(results / name)
        other = table.assign(**{c: table[c] - 0.1 for c in table.columns if c.startswith("dice")})
        write_csv(pd.concat([table.assign(variant=variants[0]), other.assign(variant=variants[1])]),
                  results / name)


def test_report_repeats_model_sections_per_variant(tmp_path: Path) -> None:
    results = make_results(tmp_path)
    split_into_variants(results, ("resnet18", "resnet18_cbam"))
    report.build_report(results, tmp_path / "report.html", n_examples=2)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    for variant in ("resnet18", "resnet18_cbam"):
        for anchor, title in report.SECTION_TITLES.items():
            assert f'<section id="{anchor}-{variant}">\n<h2>{title} — {variant}</h2>' in html
            assert f'href="#{anchor}-{variant}"' in html
    assert f"<td>{SUMMARY_MARKER:.3f}</td>" in html and f"<td>{SUMMARY_MARKER - 0.1:.3f}</td>" in html
    assert "Skipped: train/" not in html   # the per-variant classifier tables are found
    assert ">Grad-CAM map: no input" not in html and ">SHAP map: no input" not in html
