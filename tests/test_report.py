"""Tests of xaicut.report on a tiny fake results tree written through xaicut.layout, as the
workflow lays it out (docs/data-contracts.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from xaicut import CLASSES
from xaicut.attribution_store import AttributionMap, attribution_path, write_attribution
from xaicut.comparison import stage_ablation, unet_vs_xai
from xaicut.costs import COSTS_COLUMNS
from xaicut.export import EXPORT_COLUMNS, exported_mask_name
from xaicut.faithfulness import summarise_deletion
from xaicut.io import write_csv, write_image, write_mask
from xaicut.layout import Layout
from xaicut.metrics import METRICS, summarise
from xaicut.published import PUBLISHED
from xaicut.report.__main__ import main
from xaicut.report.document import build_report
from xaicut.report.examples import grid_columns
from xaicut.report.figures import training_curves_figure
from xaicut.report.loading import ReportSettings
from xaicut.report.markup import COMPARISON_SECTIONS, NOT_SCORED, SECTION_TITLES
from xaicut.report.tables import pick_examples
from xaicut.report.variant_sections import N_WORST
from xaicut.shards import IMAGE_PRIOR, OTSU_STAGE
from xaicut.threshold_study import auto_thresholds, best_thresholds, mann_whitney, outcome_table

WIDTH, HEIGHT = 60, 45
IMAGES = {  # image_id: (dx, predicted dx); shard_size 2: test000 holds the first two
    "ISIC_0000001": ("mel", "mel"),
    "ISIC_0000002": ("nv", "nv"),
    "ISIC_0000003": ("bcc", "nv"),
    "ISIC_0000004": ("nv", "nv"),
}
METHODS = ("gradcam", "eigencam_signed")
STAGES = (*METHODS, "fused", "graphcut")
"""Stages of every classifier variant; the Otsu baseline (``OTSU_STAGE``) is the run's, once."""
SUMMARY_MARKER = 0.4321  # graphcut dice_median in summary.csv; must show as 0.432
OTSU_DICE = 0.07  # the Otsu baseline's Dice over the first stage's, image by image
REJECTED_PROBLEM = "image file is empty (0 bytes)"


def ellipse_mask(cx: int, cy: int, rx: int, ry: int) -> np.ndarray:
    """A boolean HEIGHT × WIDTH ellipse."""
    y, x = np.mgrid[:HEIGHT, :WIDTH]
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1


def metric_row(dice: float) -> dict[str, float]:
    """Made-up metric values derived from a Dice score."""
    jaccard = dice / (2 - dice)
    return {"dice": dice, "jaccard": jaccard, "accuracy": 0.9, "sensitivity": 0.8,
            "specificity": 0.95, "precision": 0.85,
            "threshold_jaccard": jaccard if jaccard >= 0.65 else 0.0}


def write_image_outputs(layout: Layout, variant: str, image_id: str, shard: str, k: int) -> None:
    """The maps of every method and the masks of every stage of one image and variant."""
    y, x = np.mgrid[:HEIGHT, :WIDTH]
    dx, predicted = IMAGES[image_id]
    for method in METHODS:
        values = np.exp(-(((x - 30 - k) / 12) ** 2 + ((y - 22) / 9) ** 2)).astype(np.float32)
        write_attribution(AttributionMap(
            image_id=image_id, method=method, values=values / values.max(),
            target_class=CLASSES.index(predicted), target_dx=predicted,
            predicted_class=CLASSES.index(predicted), predicted_probability=0.9,
            true_class=CLASSES.index(dx), checkpoint_sha256="0" * 64,
            method_params={"layer": "layer4"},
        ), attribution_path(layout.attribution(variant, shard), image_id, method))
    for j, stage in enumerate(STAGES):
        write_mask(ellipse_mask(30 + k, 22, 10 + j, 8),
                   layout.masks(variant, stage, shard) / f"{image_id}.png")


def write_otsu_masks(layout: Layout, image_id: str, shard: str, k: int) -> None:
    """The Otsu baseline's mask of one image (no classifier: one folder for the run)."""
    write_mask(ellipse_mask(30 + k, 22, 14, 8),
               layout.masks(IMAGE_PRIOR, OTSU_STAGE, shard) / f"{image_id}.png")


def write_data(layout: Layout, has_mask: bool) -> pd.DataFrame:
    """Images, ground truth, manifest, rejected inputs and the exported masks and table."""
    rows = []
    for k, (image_id, (dx, predicted)) in enumerate(sorted(IMAGES.items())):
        truth = ellipse_mask(28 + k, 22, 14, 10)
        image = np.full((HEIGHT, WIDTH, 3), (200, 160, 140), np.uint8)
        image[truth] = (110, 60, 50)
        image_path = layout.demo_data / "images" / f"{image_id}.jpg"
        mask_path = layout.demo_data / "masks" / f"{image_id}_segmentation.png"
        write_image(image, image_path)
        write_mask(truth, mask_path)
        write_mask(truth, layout.segmentations() / exported_mask_name(image_id))
        rows.append({"image_id": image_id, "lesion_id": f"HAM_{k:07d}", "dx": dx,
                     "label": CLASSES.index(dx), "split": "test", "image_path": str(image_path),
                     "mask_path": str(mask_path) if has_mask else "", "has_mask": has_mask,
                     "width": WIDTH, "height": HEIGHT})
    manifest = pd.DataFrame(rows)
    write_csv(manifest, layout.manifest())
    write_csv(pd.DataFrame([{"image_id": "ISIC_0099999", "file": "/data/ISIC_0099999.jpg",
                             "problem": REJECTED_PROBLEM}]), layout.rejected())
    write_csv(manifest.assign(variant="plain", stage="graphcut", status="ok", area_fraction=0.2,
                              confidence=np.linspace(0.3, 0.9, len(manifest)),
                              predicted_dx=[IMAGES[i][1] for i in manifest.image_id],
                              predicted_probability=0.9)[list(EXPORT_COLUMNS)],
              layout.segmentations_table())
    return manifest


def write_classifier(layout: Layout, variant: str, manifest: pd.DataFrame) -> None:
    """Classifier tables and deletion-faithfulness summary of one variant."""
    write_csv(pd.DataFrame([
        {"image_id": i, "dx": dx, "label": CLASSES.index(dx),
         "predicted_label": CLASSES.index(p), "predicted_dx": p, "probability": 0.9}
        for i, (dx, p) in sorted(IMAGES.items())
    ]), layout.classifier_table(variant, "test_predictions"))
    write_csv(pd.DataFrame({
        "member": [0, 0, 1], "epoch": [1, 2, 1], "train_loss": [1.2, 0.8, 0.6],
        "train_accuracy": [0.5, 0.7, 0.8], "val_loss": [1.3, 0.9, 0.8],
        "val_accuracy": [0.45, 0.6, 0.7], "val_balanced_accuracy": [0.3, 0.4, 0.5],
        "lr": [1e-3, 1e-3, 1e-4],
    }), layout.classifier_table(variant, "history"))
    rows = [{"class": dx, "precision": 0.8, "recall": 0.7, "f1_score": 0.75, "support": 1}
            for dx in CLASSES]
    rows += [{"class": "accuracy", "f1_score": 0.75, "support": 4},
             {"class": "macro avg", "precision": 0.6, "recall": 0.6, "f1_score": 0.6, "support": 4},
             {"class": "weighted avg", "precision": 0.7, "recall": 0.75, "f1_score": 0.72,
              "support": 4},
             {"class": "test loss", "precision": 0.61}]
    write_csv(pd.DataFrame(rows), layout.classifier_table(variant, "classification_report"))
    deletion = pd.DataFrame([{"image_id": i, "method": m, "fraction": f, "drop": 0.1 * f}
                             for i in manifest.image_id for m in (*METHODS, "random")
                             for f in (0.1, 0.2)])
    write_csv(summarise_deletion(deletion), layout.faithfulness_summary(variant))


def write_study(layout: Layout, variant: str, manifest: pd.DataFrame) -> None:
    """A threshold study of one variant (paper 001 tables from made-up curves)."""
    curves = pd.DataFrame([
        {"image_id": r.image_id, "split": split, "dx": r.dx, "method": m,
         "predicted_class": r.label, "true_class": r.label, "correct": k % 2 == 0,
         "threshold": t / 10, "jaccard": (1 - abs(t / 10 - 0.4)) * (0.5 + 0.1 * k)}
        for k, r in enumerate(manifest.itertuples()) for split in ("val", "test")
        for m in METHODS for t in range(11)])
    best = best_thresholds(curves)
    for name, table in (("jaccard_curves", curves), ("best_thresholds", best),
                        ("by_outcome", outcome_table(curves)),
                        ("mann_whitney", mann_whitney(curves, best))):
        write_csv(table, layout.study_table(variant, name))
    layout.auto_thresholds(variant).write_text(json.dumps(auto_thresholds(best)))


def write_metrics(layout: Layout, variants: tuple[str, ...]) -> None:
    """The evaluate tables; variant ``i`` scores 0.1 less Dice than the first; the Otsu baseline
    (one row per image for the run) ``OTSU_DICE`` more than the image's first stage."""
    ids = sorted(IMAGES)
    per_image = pd.DataFrame([
        {"image_id": image_id, "dx": IMAGES[image_id][0], "variant": v, "stage": s,
         **metric_row(0.2 + 0.15 * k + 0.03 * j - 0.1 * i)}
        for i, v in enumerate(variants) for k, image_id in enumerate(ids)
        for j, s in enumerate(STAGES)] + [
        {"image_id": image_id, "dx": IMAGES[image_id][0], "variant": IMAGE_PRIOR,
         "stage": OTSU_STAGE, **metric_row(0.2 + 0.15 * k + OTSU_DICE)}
        for k, image_id in enumerate(ids)])
    summary = summarise(per_image, ["variant", "stage"])
    summary.loc[summary.stage == "graphcut", "dice_median"] = SUMMARY_MARKER
    tables = {"per_image": per_image, "summary": summary,
              "summary_per_class": summarise(per_image, ["variant", "dx", "stage"]),
              "stage_ablation": stage_ablation(summary), "unet_vs_xai": unet_vs_xai(per_image)}
    for name, table in tables.items():
        write_csv(table, layout.metrics_table(name))
    write_csv(pd.DataFrame([{"variant": "plain", "stage": "graphcut", "split": "test",
                             "n_images": 4, **{f"{m}_mean": 0.5 for m in METRICS}}]),
              layout.segmentation_scores)


def write_costs(layout: Layout) -> None:
    """A costs.csv (contracts §10): two segment shards and one ingest job."""
    write_csv(pd.DataFrame(
        [("ingest", "", 3.0, 150.5, 4, 0.75),
         ("segment", "variant=plain,shard=test000", 6.0, 310.0, 2, 3.0),
         ("segment", "variant=plain,shard=test001", 8.0, None, 2, 4.0)],
        columns=list(COSTS_COLUMNS)), layout.costs)


def make_results(root: Path, variants: tuple[str, ...] = ("plain",), has_mask: bool = True,
                 datasets: tuple[str, ...] = ()) -> ReportSettings:
    """Write a fake run under ``root``; return the report's settings for it."""
    layout = Layout(root / "results")
    manifest = write_data(layout, has_mask)
    for variant in variants:
        write_classifier(layout, variant, manifest)
        for k, image_id in enumerate(sorted(IMAGES)):
            write_image_outputs(layout, variant, image_id, f"test00{k // 2}", k)
        if has_mask:
            write_study(layout, variant, manifest)
    for k, image_id in enumerate(sorted(IMAGES)):
        write_otsu_masks(layout, image_id, f"test00{k // 2}", k)
    if has_mask:
        write_metrics(layout, variants)
    write_costs(layout)
    return ReportSettings(layout=layout, variants=list(variants), methods=list(METHODS),
                          datasets=list(datasets), shard_size=2, n_examples=3,
                          config={"fuse": {"mode": "and"}})


def report_of(settings: ReportSettings, path: Path) -> str:
    build_report(settings, path)
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def complete(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportSettings, str]:
    """The fake run with two variants, and its report."""
    root = tmp_path_factory.mktemp("results")
    settings = make_results(root, variants=("plain", "cbam"))
    return settings, report_of(settings, root / "report.html")


@pytest.fixture(scope="module")
def report_html(complete: tuple[ReportSettings, str]) -> str:
    return complete[1]


def section_of(html: str, anchor: str) -> str:
    """The HTML of the report section ``anchor``."""
    match = re.search(rf'<section id="{anchor}">(.*?)</section>', html, re.S)
    assert match, anchor
    return match.group(1)


def table_rows(html: str) -> list[list[str]]:
    """The body rows of every table in ``html``, as lists of cell texts."""
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", html, re.S)
            if "<td>" in row]


def test_report_is_self_contained(report_html: str) -> None:
    assert "data:image/png;base64," in report_html
    sources = re.findall(r'(?:src|href)="([^"]*)"', report_html)
    assert sources and all(s.startswith(("data:image/png;base64,", "#")) for s in sources)


def test_report_shows_stages_sections_and_values(report_html: str) -> None:
    for name in (*STAGES, OTSU_STAGE, *SECTION_TITLES.values(), "Dice distributions per stage"):
        assert name in report_html
    assert f"<td>{SUMMARY_MARKER:.3f}</td>" in report_html
    assert "<td>weighted avg</td>" in report_html
    assert "&quot;mode&quot;: &quot;and&quot;" in report_html and "Test images: 4." in report_html
    assert "Inputs left out by ingest: 1" in report_html and REJECTED_PROBLEM in report_html
    assert report_html.count('class="note"') == 2   # no U-Net, no external dataset: by config


def test_report_repeats_model_sections_per_variant(report_html: str) -> None:
    for variant in ("plain", "cbam"):
        for anchor, title in SECTION_TITLES.items():
            if anchor not in COMPARISON_SECTIONS:
                assert (f'<section id="{anchor}-{variant}">\n<h2>{title} — {variant}</h2>'
                        in report_html)
                assert f'href="#{anchor}-{variant}"' in report_html


def test_report_is_reproducible(complete: tuple[ReportSettings, str], tmp_path: Path) -> None:
    settings, html = complete
    assert report_of(settings, tmp_path / "again.html") == html


def test_every_method_is_drawn_as_a_map() -> None:
    """No per-method title table: a method the report never heard of still gets its column."""
    columns = grid_columns(["eigencam_signed", "new_cam"], ["eigencam_signed", "new_cam", "fused"])
    assert list(columns.values()) == ["Image", "eigencam_signed map", "new_cam map",
                                      "fused mask", "Ground truth"]


@pytest.mark.parametrize("missing", [
    lambda layout: attribution_path(layout.attribution("plain", "test000"), "ISIC_0000001",
                                    "eigencam_signed"),
    lambda layout: layout.masks(IMAGE_PRIOR, OTSU_STAGE, "test001") / "ISIC_0000003.png",
    lambda layout: layout.classifier_table("plain", "history"),
    lambda layout: layout.faithfulness_summary("plain"),
    lambda layout: layout.metrics_table("unet_vs_xai"),
    lambda layout: layout.study_table("plain", "mann_whitney"),
], ids=["map", "mask", "history", "faithfulness", "metrics", "study"])
def test_a_missing_input_the_workflow_writes_is_an_error_naming_it(tmp_path, missing) -> None:
    settings = make_results(tmp_path)
    path = missing(settings.layout)
    path.unlink()
    with pytest.raises((FileNotFoundError, ValueError, OSError), match=re.escape(path.name)):
        build_report(settings, tmp_path / "report.html")


def test_what_the_data_leave_out_is_a_note(tmp_path: Path) -> None:
    """No ground-truth mask: no metrics, no study, no scores of the export; external dataset
    without masks: not scored."""
    settings = make_results(tmp_path, has_mask=False, datasets=("ph2",))
    write_csv(pd.read_csv(settings.layout.manifest()), settings.layout.manifest("ph2"))
    html = report_of(settings, tmp_path / "report.html")
    for anchor in ("unet-vs-xai", "ablation", "published", "summary-plain", "per-class-plain",
                   "examples-plain", "failures-plain"):
        assert NOT_SCORED in section_of(html, anchor), anchor
    assert "no threshold study" in section_of(html, "attribution-plain")
    assert "ph2: no image has a ground-truth mask" in section_of(html, "cross-dataset")
    assert "None of the 4 images has a ground-truth mask" in html
    assert "85.17 %" in section_of(html, "published")


def test_pick_examples_spans_the_dice_range() -> None:
    per_image = pd.DataFrame({"image_id": [f"ISIC_{k:07d}" for k in range(10)],
                              "stage": "graphcut", "dice": np.linspace(0.0, 0.9, 10)})
    assert pick_examples(per_image, 3, "graphcut") == ["ISIC_0000009", "ISIC_0000005",
                                                       "ISIC_0000000"]
    assert len(pick_examples(per_image, 50, "graphcut")) == 10
    assert pick_examples(per_image, 0, "graphcut") == []


def mean_sd_text(values: pd.Series) -> str:
    return f"{values.mean():.3f} ± {values.std():.3f}"


def test_unet_vs_xai_without_unet(complete: tuple[ReportSettings, str], report_html: str) -> None:
    per_image = pd.read_csv(complete[0].layout.metrics_table("per_image"))
    graphcut = per_image[(per_image.stage == "graphcut") & (per_image.variant == "plain")]
    part = section_of(report_html, "unet-vs-xai")
    rows = table_rows(part)
    assert [(r[0], r[2]) for r in rows] == [(v, s) for v in ("plain", "cbam")
                                            for s in ("fused", "graphcut")]
    assert rows[1] == ["plain", "XAI segmentation (graph cut)", "graphcut", "4",
                       mean_sd_text(graphcut.dice), mean_sd_text(graphcut.jaccard)]
    assert "(stage unet) was not run" in part


def test_ablation_shows_the_evaluate_table(report_html: str) -> None:
    rows = table_rows(section_of(report_html, "ablation"))
    order = ["gradcam", "eigencam_signed", "fused", "graphcut"]
    assert [(r[0], r[1]) for r in rows] == [
        *((v, s) for v in ("plain", "cbam") for s in order), (IMAGE_PRIOR, OTSU_STAGE)]
    assert rows[len(order)][3] == f"{0.2 + 0.225 + 0.03 * 0 - 0.1:.3f}"  # cbam gradcam dice


def test_every_variant_is_compared_with_the_one_otsu_baseline(report_html: str) -> None:
    """The Otsu baseline is scored once (variant image_prior); each variant's summary, examples
    and failures still show it beside the variant's stages, in pipeline order."""
    baseline = f"{0.2 + 0.225 + OTSU_DICE:.3f}"     # mean over the images
    for variant in ("plain", "cbam"):
        summary = table_rows(section_of(report_html, f"summary-{variant}"))
        assert [r[0] for r in summary] == ["gradcam", "eigencam_signed", "fused", OTSU_STAGE,
                                           "graphcut"]
        assert summary[3][2] == baseline
        failures = section_of(report_html, f"failures-{variant}")
        assert f"<th>{OTSU_STAGE}</th>" in failures
        assert table_rows(failures)[0][-2] == f"{0.2 + OTSU_DICE:.3f}"   # worst image, otsu


def test_per_class_dice_table_and_figure(report_html: str) -> None:
    part = section_of(report_html, "per-class-plain")
    rows = table_rows(part.split("<details>")[0])
    assert [r[0] for r in rows] == ["bcc", "mel", "nv"]
    assert "<th>eigencam_signed</th>" in part and "data:image/png;base64," in part


def test_published_results_beside_ours(report_html: str) -> None:
    part = section_of(report_html, "published")
    assert "not comparable 1:1" in part
    rows = table_rows(part)
    assert rows[0][:5] == ["this run", "metrics/summary.csv",
                           "HAM10000, this run's test split (4 images)",
                           "XAI segmentation (graph cut) [plain]", "class labels"]
    for result, row in zip(PUBLISHED, rows[2:], strict=True):
        assert result.method in row and result.source in row


def test_examples_show_pixel_errors_and_failures_the_worst_images(report_html: str) -> None:
    examples = section_of(report_html, "examples-plain")
    assert "Pixel errors of graphcut" in examples and examples.count("data:image/png") == 2
    failures = section_of(report_html, "failures-plain")
    rows = table_rows(failures)
    assert len(rows) == min(N_WORST, len(IMAGES))
    assert [r[0] for r in rows] == sorted(IMAGES)   # fake graph-cut Dice grows with the id
    assert rows[2][:3] == ["ISIC_0000003", "bcc", "nv"]


def test_unet_rows_lead_the_comparison_and_make_no_variant_section(tmp_path: Path) -> None:
    settings = make_results(tmp_path, variants=("plain", "cbam"))
    layout = settings.layout
    per_image = pd.read_csv(layout.metrics_table("per_image"))
    unet = per_image[(per_image.stage == "graphcut") & (per_image.variant == "plain")]
    per_image = pd.concat([per_image, unet.assign(variant="supervised", stage="unet", dice=0.9)],
                          ignore_index=True)
    summary = summarise(per_image, ["variant", "stage"])
    for name, table in (("per_image", per_image), ("summary", summary),
                        ("stage_ablation", stage_ablation(summary)),
                        ("unet_vs_xai", unet_vs_xai(per_image))):
        write_csv(table, layout.metrics_table(name))
    html = report_of(settings, tmp_path / "report.html")
    comparison = table_rows(section_of(html, "unet-vs-xai"))
    assert comparison[-1][:3] == ["supervised", "U-Net (supervised)", "unet"]
    assert comparison[-1][4].startswith("0.900 ± 0.000") and "was not run" not in html
    assert "supervised" not in str(re.findall(r'<section id="([^"]+)"', html))


def test_cross_dataset_section_lists_each_external_dataset(tmp_path: Path) -> None:
    settings = make_results(tmp_path, datasets=("ph2",))
    layout = settings.layout
    write_csv(pd.read_csv(layout.manifest()), layout.manifest("ph2"))
    write_csv(pd.read_csv(layout.metrics_table("stage_ablation")),
              layout.metrics_table("stage_ablation", "ph2"))
    part = section_of(report_of(settings, tmp_path / "report.html"), "cross-dataset")
    assert "<h3>ph2</h3>" in part and "<td>plain</td>" in part


def test_the_command_line_reads_the_runs_config(tmp_path: Path) -> None:
    settings = make_results(tmp_path)
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "results_dir": str(settings.layout.results), "variants": {"cbam": None},
        "attribute": {"methods": list(METHODS), "shard_size": 2}}))
    main([str(tmp_path / "report.html"), "--configfile", str(config), "--config", "run=default"])
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="summary-plain"' in html and 'id="summary-cbam"' not in html


def test_training_curves_draw_each_member_in_its_own_style() -> None:
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


def test_per_rule_cost_section(report_html: str) -> None:
    """Per rule, summed over its jobs, most seconds first, with a figure; every job below."""
    costs = section_of(report_html, "costs")
    assert SECTION_TITLES["costs"] in costs and "data:image/png;base64," in costs
    rows = table_rows(costs)
    # rule, jobs, seconds, max_rss_mb, images, seconds_per_image; then the jobs
    assert rows[0] == ["segment", "2", "14.000", "310.000", "4", "3.500"]
    assert rows[1] == ["ingest", "1", "3.000", "150.500", "4", "0.750"]
    assert ["segment", "variant=plain,shard=test001", "8.000", "", "2", "4.000"] in rows[2:]
