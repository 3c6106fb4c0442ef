"""The report's sections over every classifier variant: the header, the exported segmentations,
the U-Net vs XAI table, the stage ablation, the published results and the cross-dataset scores.
"""

from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd

from xaicut.export import exported_mask_name
from xaicut.io import read_mask, read_rgb
from xaicut.layout import UNET_STAGE
from xaicut.published import published_table
from xaicut.report.figures import by_class_figure
from xaicut.report.galleries import gallery_figure
from xaicut.report.loading import ReportSettings, RunTables
from xaicut.report.markup import NOT_SCORED, figure_html, navigation, note, section, table_html
from xaicut.report.overlays import PREDICTION_COLOUR, outline, thumbnail, thumbnail_mask
from xaicut.report.tables import mask_coverage_text, our_results, stage_order, status_counts

MAX_REJECTED_ROWS = 50
N_REVIEW = 20
"""Rows of the review list: the least confident exported masks."""


def header_section(title: str, run: RunTables, settings: ReportSettings) -> str:
    """Title, test-image count, scored stages, mask coverage, rejected inputs, the collapsible
    run configuration and one line of section links per classifier variant."""
    n_test = int((run.manifest["split"] == "test").sum())
    stages = stage_order(run.metrics.get("per_image"), run.metrics.get("summary"))
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Test images: {n_test}. Stages scored: {html.escape(', '.join(stages) or 'none')}. "
        f"{html.escape(mask_coverage_text(run.manifest))}</p>",
    ]
    if not run.rejected.empty:
        parts.append(f"<details><summary>Inputs left out by ingest: {len(run.rejected)} "
                     f"({html.escape(str(run.inputs.rejected))}; first {MAX_REJECTED_ROWS} "
                     f"below)</summary>{table_html(run.rejected.head(MAX_REJECTED_ROWS))}"
                     "</details>")
    text = json.dumps(settings.config, indent=2, default=str)
    parts.append(f"<details><summary>Configuration</summary><pre>{html.escape(text)}</pre>"
                 "</details>")
    return "<header>\n" + "\n".join(parts + navigation(settings.variants)) + "\n</header>"


def _exported_tile(settings: ReportSettings, record: pd.Series,
                   manifest: pd.DataFrame) -> tuple[np.ndarray, str]:
    """The image with the exported mask's outline and a title (id, dx, confidence, area)."""
    image_path = manifest.loc[manifest["image_id"] == record["image_id"], "image_path"].iloc[0]
    mask = read_mask(settings.layout.segmentations() / exported_mask_name(record["image_id"]))
    picture = outline(thumbnail(read_rgb(image_path)), thumbnail_mask(mask), PREDICTION_COLOUR)
    return picture, (f"{record['image_id']}: {record['dx']}\nconfidence "
                     f"{record['confidence']:.2f}, area {record['area_fraction']:.2f}")


def _confidence_gallery(settings: ReportSettings, table: pd.DataFrame, manifest: pd.DataFrame,
                        title: str) -> str:
    """A gallery of the table's images (in order) with their exported outlines."""
    tiles = [_exported_tile(settings, r, manifest) for _, r in table.iterrows()]
    stage = str(table["stage"].iloc[0])
    figure = gallery_figure(tiles, {f"exported mask ({stage})": PREDICTION_COLOUR})
    return f"<h3>{html.escape(title)}</h3>" + figure_html(figure, title)


def segmentations_section(run: RunTables, settings: ReportSettings) -> str:
    """The deliverable: where the masks are, ground-truth coverage, status counts, area and
    confidence per class, the least and most confident images, the review list and (images
    with a mask) the exported folder's scores by split."""
    table, n = run.segmentations, settings.n_examples
    ranked = table.sort_values(["confidence", "image_id"])
    variant, stage = table["variant"].iloc[0], table["stage"].iloc[0]
    folder = settings.layout.segmentations()
    parts = [
        f"<p>{len(table)} masks ({html.escape(str(variant))}, stage {html.escape(str(stage))}) "
        f"in <code>{html.escape(str(folder))}/</code>, one 0/255 PNG per image named "
        "<code>&lt;image_id&gt;_segmentation.png</code>; status, area, label-free confidence "
        f"and prediction per image in <code>{html.escape(str(run.inputs.segmentations))}</code>. "
        f"{html.escape(mask_coverage_text(run.manifest))}</p>",
        table_html(status_counts(table)),
        figure_html(by_class_figure(table, "confidence", "Label-free confidence per class"),
                    "confidence per class"),
        figure_html(by_class_figure(table, "area_fraction", "Lesion area (share of the image) "
                                    "per class"), "area per class"),
        _confidence_gallery(settings, ranked.head(n), run.manifest,
                            f"The {n} least confident: check these first"),
        _confidence_gallery(settings, ranked.tail(n).iloc[::-1], run.manifest,
                            f"The {n} most confident"),
        f"<details><summary>Review list: the {N_REVIEW} least confident images</summary>"
        f"{table_html(ranked.head(N_REVIEW))}</details>",
    ]
    if run.segmentation_scores is not None:
        parts += ["<h3>The exported masks against the ground truth, split by split (images "
                  "with a mask)</h3>", table_html(run.segmentation_scores)]
    return section("segmentations", None, parts)


def _mean_sd(mean: float, sd: float) -> str:
    """``"mean ± SD"`` to 3 decimals; the mean alone without an SD (one image)."""
    return f"{mean:.3f}" if pd.isna(sd) else f"{mean:.3f} ± {sd:.3f}"


def unet_vs_xai_section(run: RunTables) -> str:
    """The evaluate rule's U-Net vs XAI table (paper 000 Table 2 form); a note when the U-Net
    stage was not run."""
    if "unet_vs_xai" not in run.metrics:
        return section("unet-vs-xai", None, [note(NOT_SCORED)])
    table = run.metrics["unet_vs_xai"]
    shown = table[["variant", "method", "stage", "n_images"]].assign(**{
        f"{title} (mean ± SD)": [_mean_sd(m, s) for m, s in zip(table[f"{metric}_mean"],
                                                                table[f"{metric}_sd"])]
        for metric, title in (("dice", "Dice Score"), ("jaccard", "Jaccard Index"))})
    parts = ["<p>As paper 000 Table 2: the U-Net learns from the ground-truth masks, the XAI "
             "stages from class labels only. Mean ± sample SD over the test images.</p>",
             table_html(shown)]
    if UNET_STAGE not in set(table["stage"].astype(str)):
        parts.append(note(f"The supervised baseline (stage {UNET_STAGE}) was not run "
                          "(config unet.enabled, or no training masks): XAI rows only."))
    return section("unet-vs-xai", None, parts)


def ablation_section(run: RunTables) -> str:
    """The evaluate rule's stage ablation: every stage's means per variant, pipeline order."""
    if "stage_ablation" not in run.metrics:
        return section("ablation", None, [note(NOT_SCORED)])
    intro = ("<p>Mean scores over the test images per classifier variant, stages in pipeline "
             "order: attribution-map masks, fused mask, graph cuts, students; then the stages "
             "without classifier, once (image_prior: the Otsu baseline and, with self-training, "
             "the graph cut it seeds and the student it teaches) and the U-Net "
             "(supervised).</p>")
    return section("ablation", None, [intro, table_html(run.metrics["stage_ablation"])])


def published_section(run: RunTables, settings: ReportSettings) -> str:
    """This run's results beside the published ones of papers 000, 002 and 004."""
    parts = ["<p>Published numbers are quoted as printed (percentages with %), with the table "
             "they come from. <strong>They were obtained on the papers' own datasets, splits, "
             "image sizes and protocols and are not comparable 1:1 with this run.</strong> "
             "Paper 002 reports mIOU, shown under Jaccard (it may average lesion and "
             "background).</p>"]
    published = published_table()
    if "summary" not in run.metrics:
        return section("published", None,
                       [*parts, note(NOT_SCORED), table_html(published.fillna(""))])
    layout = settings.layout
    source = str(layout.metrics_table("summary").relative_to(layout.run))
    combined = pd.concat([our_results(run.metrics["summary"], source), published],
                         ignore_index=True)
    return section("published", None, parts + [table_html(combined.fillna(""))])


def cross_dataset_section(run: RunTables, settings: ReportSettings) -> str:
    """Per external dataset (config ``external``), the stage ablation of its scores."""
    if not settings.datasets:
        return section("cross-dataset", None, [note(
            "No external dataset in this run (config external: name → folder in the HAM10000 "
            "layout, segmented with the models trained here).")])
    parts = ["<p>Models and thresholds come from the training dataset; nothing is fitted on "
             "these images.</p>"]
    for name in settings.datasets:
        scores = run.external_metrics.get(name)
        parts += [f"<h3>{html.escape(name)}</h3>",
                  note(f"{name}: no image has a ground-truth mask, nothing was scored.")
                  if scores is None else table_html(scores)]
    return section("cross-dataset", None, parts)
