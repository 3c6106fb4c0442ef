"""The report's sections of one classifier variant: segmentation summary, per class, the
attribution maps' threshold study and faithfulness, the classifier, examples and failures."""

from __future__ import annotations

import html
import json

from xaicut.report.examples import TRUTH, Example, grid_columns, load_examples, tile_title
from xaicut.report.figures import (
    class_stage_heatmap_figure,
    confusion_matrix_figure,
    deletion_figure,
    dice_distribution_figure,
    summary_figure,
    threshold_curve_figure,
    training_curves_figure,
)
from xaicut.report.galleries import example_grid_figure, gallery_figure
from xaicut.report.loading import ReportSettings, RunTables, VariantTables
from xaicut.report.markup import NOT_SCORED, figure_html, note, section, table_html
from xaicut.report.overlays import (
    ERROR_COLOURS,
    PREDICTION_COLOUR,
    TRUTH_COLOUR,
    error_overlay,
    outline,
)
from xaicut.report.tables import (
    class_stage_dice,
    pick_examples,
    ranking_stage,
    sort_by_stage,
    worst_images,
    worst_table,
)

N_WORST = 10
"""Images of the failure analysis: the lowest Dice of the main stage."""


def summary_section(tables: VariantTables, stages: list[str]) -> str:
    """The variant's summary.csv rows, mean Dice/Jaccard bars and per-image Dice distributions."""
    if tables.summary is None:
        return section("summary", tables.variant, [note(NOT_SCORED)])
    ordered = sort_by_stage(tables.summary, stages)
    return section("summary", tables.variant, [
        table_html(ordered), "<h3>Mean Dice and Jaccard per stage</h3>",
        figure_html(summary_figure(ordered), "mean Dice and Jaccard per stage"),
        "<h3>Dice distributions per stage</h3>",
        figure_html(dice_distribution_figure(tables.per_image, stages),
                    "Dice distributions per stage")])


def per_class_section(tables: VariantTables, stages: list[str]) -> str:
    """Mean Dice per class × stage as a table and heatmap; all of summary_per_class folded."""
    if tables.per_class is None:
        return section("per-class", tables.variant, [note(NOT_SCORED)])
    grid = class_stage_dice(tables.per_class, stages)
    return section("per-class", tables.variant, [
        "<h3>Mean Dice per class and stage</h3>", table_html(grid.reset_index()),
        figure_html(class_stage_heatmap_figure(grid), "mean Dice per class and stage"),
        "<details><summary>All metrics per class and stage (summary_per_class.csv)</summary>"
        f"{table_html(tables.per_class)}</details>"])


def _threshold_study(tables: VariantTables) -> list[str]:
    """Paper 001's threshold study: curves, best thresholds, correct vs wrong, Mann-Whitney."""
    if tables.study is None:
        return [note("No validation or test image has a ground-truth mask: no threshold study.")]
    best, auto = tables.study["best_thresholds"], tables.auto_thresholds
    parts = ["<h3>Mean Jaccard of the binarised map against threshold</h3>",
             figure_html(threshold_curve_figure(tables.study["jaccard_curves"], auto),
                         "mean Jaccard against threshold"),
             "<p>Best threshold per method on the validation split (used by "
             f"<code>threshold_method: auto</code>): {html.escape(json.dumps(auto))}</p>",
             "<h3>Best threshold per method and class, test split (paper 001 Tables 2-3)</h3>",
             table_html(best[best.split == "test"]), "<h3>Validation split</h3>",
             table_html(best[best.split == "val"])]
    for heading, name in (("Correct vs wrong classification, test split (Tables 4-5)",
                           "by_outcome"),
                          ("Mann-Whitney U, correct vs wrong, test split (Table 6)",
                           "mann_whitney")):
        table = tables.study[name]
        parts += [f"<h3>{heading}</h3>", table_html(table[table.split == "test"])]
    return parts


def attribution_section(tables: VariantTables) -> str:
    """Paper 001's threshold study and the deletion-faithfulness scores (paper 003)."""
    parts = [*_threshold_study(tables), "<h3>Deletion faithfulness (paper 003)</h3>"]
    if tables.deletion.empty:
        parts.append(note("No deletion fractions configured (attribute.deletion_fractions)."))
    else:
        parts += ["<p>Drop of the predicted-class probability when the top-attributed pixels are "
                  "blurred away; <code>random</code> deletes as many random pixels.</p>",
                  figure_html(deletion_figure(tables.deletion), "deletion curves"),
                  table_html(tables.deletion)]
    return section("attribution", tables.variant, parts)


def classifier_section(tables: VariantTables) -> str:
    """Classification report (paper 000 Table 1), confusion matrix and training curves."""
    return section("classifier", tables.variant, [
        "<h3>Classification report (test set)</h3>", table_html(tables.class_report),
        "<h3>Confusion matrix</h3>",
        figure_html(confusion_matrix_figure(tables.predictions), "confusion matrix"),
        "<h3>Training curves</h3>",
        figure_html(training_curves_figure(tables.history), "training curves")])


def _error_gallery(examples: list[Example], stage: str) -> list[str]:
    """Heading and TP/FP/FN figure of ``stage`` for the examples."""
    tiles = [(error_overlay(e.image, e.masks[stage], e.masks[TRUTH]), tile_title(e, stage))
             for e in examples]
    return [f"<h3>Pixel errors of {html.escape(stage)} (paper 004 Fig. 7 style)</h3>",
            "<p>Green: lesion found (TP); red: over-segmentation (FP); blue: missed lesion "
            "(FN).</p>", figure_html(gallery_figure(tiles, ERROR_COLOURS), f"TP/FP/FN of {stage}")]


def examples_section(run: RunTables, tables: VariantTables, stages: list[str],
                     settings: ReportSettings) -> str:
    """Example rows as in paper 000 Figs 2–5: test images at evenly spaced ranks of the main
    stage's Dice, with every method's map and every stage's mask, and their pixel errors."""
    if tables.per_image is None:
        return section("examples", tables.variant, [note(NOT_SCORED)])
    stage = ranking_stage(stages)
    ids = pick_examples(tables.per_image, settings.n_examples, stage)
    examples = load_examples(settings, run.manifest, tables, ids, stages)
    columns = grid_columns(settings.methods, stages)
    intro = (f"<p>{len(examples)} test images at evenly spaced ranks of {html.escape(stage)} "
             "Dice, best first. Yellow: predicted mask (on maps: the binarised map); cyan: "
             "ground truth.</p>")
    figure = figure_html(example_grid_figure(examples, columns, stage), "example rows")
    return section("examples", tables.variant, [intro, figure, *_error_gallery(examples, stage)])


def failures_section(run: RunTables, tables: VariantTables, stages: list[str],
                     settings: ReportSettings) -> str:
    """The ``N_WORST`` test images by Dice of the main stage (paper 000 Fig. 6): their Dice in
    every stage, and a gallery of image, truth and prediction outlines."""
    if tables.per_image is None:
        return section("failures", tables.variant, [note(NOT_SCORED)])
    stage = ranking_stage(stages)
    ids = worst_images(tables.per_image, N_WORST, stage)
    examples = load_examples(settings, run.manifest, tables, ids, stages)
    tiles = [(outline(outline(e.image, e.masks[TRUTH], TRUTH_COLOUR), e.masks[stage],
                      PREDICTION_COLOUR), tile_title(e, stage)) for e in examples]
    legend = {"ground truth": TRUTH_COLOUR, f"{stage} prediction": PREDICTION_COLOUR}
    return section("failures", tables.variant, [
        f"<p>The {len(ids)} test images with the lowest {html.escape(stage)} Dice, worst first: "
        "where the method fails (compare the attribution-map stages).</p>",
        table_html(worst_table(tables.per_image, tables.predictions, ids, stages)),
        figure_html(gallery_figure(tiles, legend), f"worst {stage} images")])
