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
from xaicut.metrics import SUMMARY_COLUMNS as ALL_SUMMARY_COLUMNS
from xaicut.published import PUBLISHED
from xaicut.report import N_WORST, SECTION_TITLES as ALL_SECTION_TITLES
from xaicut.report import build_report, main, pick_examples, training_curves_figure

WIDTH, HEIGHT = 60, 45
IMAGES = {  # image_id: (dx, shard, predicted dx)
    "ISIC_0000001": ("mel", "shard000", "mel"),
    "ISIC_0000002": ("nv", "shard000", "nv"),
    "ISIC_0000003": ("bcc", "shard001", "nv"),
    "ISIC_0000004": ("nv", "shard001", "nv"),
}
STAGES = ("gradcam", "shap", "fused", "graphcut", "otsu")
SUMMARY_MARKER = 0.4321  # graphcut dice_median in summary.csv; must show as 0.432
SUMMARY_COLUMNS = list(ALL_SUMMARY_COLUMNS[2:])   # after variant and stage
SUMMARY_VALUES = [4, 0.5, 0.5, 0.4, 0.4, 0.9, 0.8, 0.95, 0.85, 0.3]
"""summary.csv values of the first stage; dice_mean grows by 0.05 a stage."""
SECTION_TITLES = (*ALL_SECTION_TITLES.values(), "Dice distributions per stage")


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
    jaccard = dice / (2 - dice)
    return {"dice": dice, "jaccard": jaccard, "accuracy": 0.9, "sensitivity": 0.8,
            "specificity": 0.95, "precision": 0.85,
            "threshold_jaccard": jaccard if jaccard >= 0.65 else 0.0}


def summary_row(stage: str, j: int) -> dict[str, float | str]:
    """The made-up summary.csv row of the ``j``-th stage."""
    values = dict(zip(SUMMARY_COLUMNS, SUMMARY_VALUES))
    return {"stage": stage, **values, "dice_mean": values["dice_mean"] + 0.05 * j}


def write_tables(root: Path, paths: dict[str, tuple[Path, Path]]) -> None:
    """Write every CSV of the contracts doc that the report reads."""
    ids = sorted(IMAGES)
    write_csv(pd.DataFrame([
        {"image_id": i, "lesion_id": f"HAM_{k:07d}", "dx": IMAGES[i][0],
         "label": CLASSES.index(IMAGES[i][0]), "split": "test", "image_path": str(paths[i][0]),
         "mask_path": str(paths[i][1]), "has_mask": True, "width": WIDTH, "height": HEIGHT}
        for k, i in enumerate(ids)
    ]), root / "data" / "manifest.csv")
    write_csv(pd.DataFrame([{"image_id": "ISIC_0099999", "file": "/data/ISIC_0099999.jpg",
                             "problem": REJECTED_PROBLEM}]), root / "data" / "rejected.csv")
    per_image = pd.DataFrame([
        {"image_id": i, "dx": IMAGES[i][0], "stage": s, **metric_row(0.2 + 0.15 * k + 0.03 * j)}
        for k, i in enumerate(ids) for j, s in enumerate(STAGES)
    ])
    write_csv(per_image, root / "metrics" / "per_image.csv")
    summary = [summary_row(s, j) for j, s in enumerate(STAGES)]
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
        "member": [0, 0, 1], "epoch": [1, 2, 1], "train_loss": [1.2, 0.8, 0.6], "train_accuracy": [0.5, 0.7, 0.8],
        "val_loss": [1.3, 0.9, 0.8], "val_accuracy": [0.45, 0.6, 0.7],
        "val_balanced_accuracy": [0.3, 0.4, 0.5], "lr": [1e-3, 1e-3, 1e-4],
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
            if anchor in report.COMPARISON_SECTIONS:
                continue
            assert f'<section id="{anchor}-{variant}">\n<h2>{title} — {variant}</h2>' in html
            assert f'href="#{anchor}-{variant}"' in html
    assert f"<td>{SUMMARY_MARKER:.3f}</td>" in html and f"<td>{SUMMARY_MARKER - 0.1:.3f}</td>" in html
    assert "Skipped: train/" not in html   # the per-variant classifier tables are found
    assert ">Grad-CAM map: no input" not in html and ">SHAP map: no input" not in html


def section_of(html: str, anchor: str) -> str:
    """The HTML of the report section ``anchor``."""
    match = re.search(rf'<section id="{anchor}">(.*?)</section>', html, re.S)
    assert match, anchor
    return match.group(1)


def table_rows(html: str) -> list[list[str]]:
    """The body rows of every table in ``html``, as lists of cell texts."""
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)
            if "<td>" in row]


def mean_sd_text(values: pd.Series) -> str:
    return f"{values.mean():.3f} ± {values.std():.3f}"


def rewrite_metrics(results: Path, change) -> None:
    """Replace each metrics table of the fake tree by ``change(table)``."""
    for name in ("per_image.csv", "summary.csv", "summary_per_class.csv"):
        path = results / "metrics" / name
        write_csv(change(pd.read_csv(path)), path)


def test_unet_vs_xai_without_unet(complete_results: Path, report_html: str) -> None:
    per_image = pd.read_csv(complete_results / "metrics" / "per_image.csv")
    graphcut = per_image[per_image.stage == "graphcut"]
    rows = table_rows(section_of(report_html, "unet-vs-xai"))
    assert [r[1] for r in rows] == ["fused", "graphcut"]   # XAI stages only, no map or otsu
    assert rows[1] == ["XAI segmentation (graph cut)", "graphcut", "4",
                       mean_sd_text(graphcut.dice), mean_sd_text(graphcut.jaccard)]
    assert "(stage unet) was not run" in section_of(report_html, "unet-vs-xai")


def test_ablation_lists_every_stage_in_pipeline_order(report_html: str) -> None:
    rows = table_rows(section_of(report_html, "ablation"))
    assert [r[0] for r in rows] == ["gradcam", "shap", "fused", "otsu", "graphcut"]
    otsu = dict(zip(["stage", "n_images", "dice", "jaccard", "accuracy", "sensitivity",
                     "specificity", "precision", "threshold_jaccard"], rows[3]))
    assert otsu["dice"] == f"{0.5 + 0.05 * STAGES.index('otsu'):.3f}"
    assert (otsu["precision"], otsu["threshold_jaccard"]) == ("0.850", "0.300")


def test_per_class_dice_table_and_figure(report_html: str) -> None:
    part = section_of(report_html, "per-class")
    rows = table_rows(part.split("<details>")[0])
    assert [r[0] for r in rows] == ["bcc", "mel", "nv"]   # CLASSES order
    assert rows[0][1:] == [f"{0.5 + 0.05 * j:.3f}" for j in range(len(STAGES))]
    assert "data:image/png;base64," in part


def test_published_results_beside_ours(report_html: str) -> None:
    part = section_of(report_html, "published")
    assert "not comparable 1:1" in part
    rows = table_rows(part)
    assert rows[0][:5] == ["this run", "metrics/summary.csv",
                           "HAM10000, this run's test split (4 images)",
                           "XAI segmentation (graph cut)", "class labels"]
    assert rows[0][5] == f"{0.5 + 0.05 * STAGES.index('graphcut'):.3f}"
    for result, row in zip(PUBLISHED, rows[1:], strict=True):
        assert result.method in row and result.source in row
        for _, value in result.scores.values():
            assert f"{value} {result.unit}".strip() in row


def test_examples_show_pixel_errors_and_failures_the_worst_images(report_html: str) -> None:
    examples = section_of(report_html, "examples")
    assert "Pixel errors of graphcut" in examples and examples.count("data:image/png") == 2
    failures = section_of(report_html, "failures")
    rows = table_rows(failures)
    assert len(rows) == min(N_WORST, len(IMAGES))
    assert [r[0] for r in rows] == sorted(IMAGES)   # fake graph-cut Dice grows with the id
    assert rows[2][:3] == ["ISIC_0000003", "bcc", "nv"]
    assert rows[0][3 + STAGES.index("graphcut")] == f"{0.2 + 0.03 * STAGES.index('graphcut'):.3f}"
    assert "data:image/png;base64," in failures


def test_report_with_unet_and_classifier_variants(tmp_path: Path) -> None:
    """U-Net rows lead the U-Net vs XAI table; a variant column groups ablation and comparison."""
    results = make_results(tmp_path)

    def with_unet_and_variants(table: pd.DataFrame) -> pd.DataFrame:
        dice = "dice" if "dice" in table else "dice_mean"
        unet = table[table.stage == "graphcut"].assign(stage="unet", **{dice: 0.9})
        both = pd.concat([table, unet], ignore_index=True)
        cbam = both.assign(**{dice: both[dice] + 0.01})
        return pd.concat([both.assign(variant="resnet18"), cbam.assign(variant="resnet18_cbam")],
                         ignore_index=True)

    rewrite_metrics(results, with_unet_and_variants)
    build_report(results, tmp_path / "report.html", n_examples=2)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    comparison = table_rows(section_of(html, "unet-vs-xai"))
    assert [(r[0], r[2]) for r in comparison] == [
        (v, s) for v in ("resnet18", "resnet18_cbam") for s in ("unet", "fused", "graphcut")]
    assert comparison[0][1] == "U-Net (supervised)"
    assert comparison[0][4].startswith("0.900 ± 0.000")
    assert comparison[3][4].startswith("0.910")
    assert "was not run" not in html
    ablation = table_rows(section_of(html, "ablation"))
    order = ["gradcam", "shap", "fused", "otsu", "graphcut", "unet"]
    assert [(r[0], r[1]) for r in ablation] == [
        (v, s) for v in ("resnet18", "resnet18_cbam") for s in order]
    assert ablation[len(order)][3] == "0.510"        # resnet18_cbam gradcam dice_mean
    published = table_rows(section_of(html, "published"))
    assert [r[3] for r in published[:4]] == [
        "U-Net (supervised) [resnet18]", "XAI segmentation (graph cut) [resnet18]",
        "U-Net (supervised) [resnet18_cbam]", "XAI segmentation (graph cut) [resnet18_cbam]"]
    assert "<th>graphcut</th>" in section_of(html, "per-class-resnet18_cbam")  # one per variant


def test_report_without_metrics_keeps_published_numbers(tmp_path: Path) -> None:
    results = make_results(tmp_path)
    for name in ("per_image.csv", "summary.csv", "summary_per_class.csv"):
        (results / "metrics" / name).unlink()
    build_report(results, tmp_path / "report.html", n_examples=2)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    for anchor in ("unet-vs-xai", "failures"):
        assert "Skipped: metrics/per_image.csv" in section_of(html, anchor)
    assert "Skipped: metrics/summary.csv not found" in section_of(html, "ablation")
    published = section_of(html, "published")
    assert "Skipped: metrics/summary.csv" in published and "85.17 %" in published


def test_cross_dataset_section_lists_each_external_dataset(tmp_path: Path) -> None:
    results = make_results(tmp_path)
    write_csv(pd.read_csv(results / "metrics" / "summary.csv").assign(variant="plain"),
              results / "external" / "ph2" / "metrics" / "summary.csv")
    build_report(results, tmp_path / "report.html", n_examples=1, external=["ph2", "isic"])
    part = section_of((tmp_path / "report.html").read_text(encoding="utf-8"), "cross-dataset")
    assert "<h3>ph2</h3>" in part and "<td>plain</td>" in part
    assert "Skipped: external/isic/metrics/summary.csv not found" in part
    build_report(results, tmp_path / "found.html", n_examples=1)   # found on disk
    assert "<h3>ph2</h3>" in section_of((tmp_path / "found.html").read_text(), "cross-dataset")


def test_the_unet_rows_make_no_variant_sections(tmp_path: Path) -> None:
    """The workflow scores the U-Net as variant ``supervised``: comparison tables only."""
    results = make_results(tmp_path)
    split_into_variants(results, ("plain", "cbam"))

    def with_unet(table: pd.DataFrame) -> pd.DataFrame:
        unet = table[(table.stage == "graphcut") & (table.variant == "plain")]
        return pd.concat([table, unet.assign(stage="unet", variant="supervised")], ignore_index=True)

    rewrite_metrics(results, with_unet)
    build_report(results, tmp_path / "report.html", n_examples=1)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="summary-plain"' in html and 'id="summary-cbam"' in html
    assert "supervised" not in re.findall(r'<section id="([^"]+)"', html).__str__()
    assert "U-Net (supervised)" in section_of(html, "unet-vs-xai")


def test_training_curves_draw_each_member_in_its_own_style():
    history = pd.DataFrame({
        "member": [0, 0, 1, 1], "epoch": [1, 2, 1, 2], "train_loss": [1.2, 0.8, 1.1, 0.9],
        "train_accuracy": [0.5, 0.7, 0.5, 0.6], "val_loss": [1.3, 0.9, 1.2, 1.0],
        "val_accuracy": [0.4, 0.6, 0.4, 0.5], "val_balanced_accuracy": [0.3, 0.4, 0.3, 0.35],
        "lr": [1e-3] * 4,
    })
    loss, accuracy = training_curves_figure(history).axes
    assert len(loss.lines) == 4 and len(accuracy.lines) == 6
    assert {line.get_linestyle() for line in accuracy.lines} == {"-", "--"}
    assert "val balanced, member 1" in [line.get_label() for line in accuracy.lines]
    assert list(accuracy.lines[3].get_ydata()) == [0.5, 0.6]  # member 1's train accuracy
