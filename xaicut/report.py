"""The run report: one self-contained HTML page (docs/data-contracts.md §8).

``build_report`` reads the metrics, classifier outputs, masks and attribution maps under a results
directory and writes a single HTML file whose figures are embedded as base64 PNG data URIs, so it
can be archived or mailed on its own. The page carries no timestamps: the same results give the
same bytes. Missing optional inputs turn into a short note instead of an error.

CLI: ``python -m xaicut.report RESULTS_DIR OUT_HTML [--run NAME] [--n-examples N]``.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from xaicut.classes import class_names  # noqa: E402
from xaicut.attribution_store import attribution_path, read_attribution  # noqa: E402
from xaicut.export import exported_mask_name  # noqa: E402
from xaicut.io import atomic_path, read_mask, read_rgb  # noqa: E402
from xaicut.metrics import METRICS, UNET_STAGE  # noqa: E402
from xaicut.published import METRIC_TITLES, TABLE_COLUMNS, published_table  # noqa: E402
from xaicut.shards import IMAGE_PRIOR  # noqa: E402

TABLE_PATHS = {
    "summary": "metrics/summary.csv",
    "per_class": "metrics/summary_per_class.csv",
    "per_image": "metrics/per_image.csv",
    "class_report": "train/classification_report.csv",
    "predictions": "train/test_predictions.csv",
    "history": "train/history.csv",
    "manifest": "data/manifest.csv",
    "rejected": "data/rejected.csv",
    "threshold_curves": "thresholds/jaccard_curves.csv",
    "best_thresholds": "thresholds/best_thresholds.csv",
    "by_outcome": "thresholds/by_outcome.csv",
    "mann_whitney": "thresholds/mann_whitney.csv",
    "deletion": "faithfulness/summary.csv",
    "segmentations": "segmentations.csv",
    "segmentation_scores": "metrics/segmentations_by_split.csv",
}
AUTO_THRESHOLDS = "thresholds/auto_thresholds.json"
RUN_TABLES = ("summary", "per_class", "per_image", "segmentations", "segmentation_scores")
"""Tables of one run name (under ``results/runs/<run>/``), rows of every classifier variant."""
DATA_TABLES = ("manifest", "rejected")
"""Tables of the input data, shared by all runs and variants; the others are per variant
(``train/<variant>/history.csv`` …)."""
COUNT_COLUMNS = ("n_images", "support", "epoch", "n_correct", "n_wrong")
MAP_TITLES = {"gradcam": "Grad-CAM map", "gradcampp": "Grad-CAM++ map", "xgradcam": "XGradCAM map",
              "layercam": "LayerCAM map", "eigencam": "EigenCAM map",
              "eigencam_signed": "Signed EigenCAM map", "scorecam": "ScoreCAM map",
              "shap": "SHAP map", "shap_partition": "Partition SHAP map"}
MASK_TITLES = {"fused": "Fused mask", "graphcut": "Graph cut", "student": "Student",
               "student_graphcut": "Student + graph cut"}
RANKING_STAGE = "graphcut"
"""The main segmentation stage: it orders the examples and the failure gallery."""
VARIANT = "variant"
"""Optional column of the metrics tables naming the classifier variant (contracts §7)."""
PIPELINE_ORDER = ("fused", "otsu", "graphcut", "graphcut_*", "otsu_student",
                  "otsu_student_graphcut", "student", "student_graphcut", "unet")
"""Stage kinds in pipeline order; attribution-map masks (any other stage) come before them."""
MAX_REJECTED_ROWS = 50
N_WORST = 10
N_REVIEW = 20
TRUTH = "truth"
THUMBNAIL_WIDTH = 200
GALLERY_COLUMNS = 5
PREDICTION_COLOUR = (255, 255, 0)
TRUTH_COLOUR = (0, 255, 255)
ERROR_COLOURS = {"TP (lesion found)": (0, 200, 0), "FP (over-segmented)": (255, 0, 0),
                 "FN (missed lesion)": (0, 90, 255)}
"""Pixel classes of a prediction against the truth and their RGB tint (green, red, blue)."""
ERROR_ALPHA = 0.5
SECTION_TITLES = {
    "segmentations": "Segmentations: one mask per image, least confident first to review",
    "summary": "Segmentation summary",
    "unet-vs-xai": "Supervised U-Net vs XAI segmentation",
    "ablation": "Stage ablation",
    "per-class": "Segmentation per class",
    "published": "Published results (on their own datasets)",
    "attribution": "Attribution maps: threshold study and faithfulness",
    "classifier": "Classifier",
    "examples": "Examples",
    "failures": "Failure analysis: worst test images",
    "cross-dataset": "Cross-dataset: other datasets segmented with these models",
}
COMPARISON_SECTIONS = ("segmentations", "unet-vs-xai", "ablation", "published", "cross-dataset")
"""Sections over every classifier variant; the others are repeated per variant."""
CSS = """
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { border-bottom: 2px solid #444; } h2 { border-bottom: 1px solid #bbb; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #eee; } tbody tr:nth-child(even) { background: #f7f7f7; }
img { max-width: 100%; display: block; margin: 1em 0; }
.note { color: #8a5a00; font-style: italic; } pre { background: #f4f4f4; padding: 1em; }
"""


@dataclass(frozen=True)
class RunTables:
    """The CSV outputs of one run and classifier variant (layouts in docs/data-contracts.md);
    ``None`` when absent. ``variant`` None: a tree without variants."""

    variant: str | None

    summary: pd.DataFrame | None
    per_class: pd.DataFrame | None
    per_image: pd.DataFrame | None
    class_report: pd.DataFrame | None
    predictions: pd.DataFrame | None
    history: pd.DataFrame | None
    manifest: pd.DataFrame | None
    rejected: pd.DataFrame | None
    threshold_curves: pd.DataFrame | None
    best_thresholds: pd.DataFrame | None
    by_outcome: pd.DataFrame | None
    mann_whitney: pd.DataFrame | None
    deletion: pd.DataFrame | None
    segmentations: pd.DataFrame | None
    segmentation_scores: pd.DataFrame | None


@dataclass(frozen=True)
class RunDirs:
    """Where the report's inputs for one classifier variant live: ``shared`` holds data, models,
    attribution maps and threshold studies; ``run`` the masks and metrics of one run name (both
    the same folder for a flat results tree). Per-variant files sit in a ``<variant>`` folder
    below their stage folder (``train/<variant>/``, ``masks/<variant>/``); ``variant`` None
    reads a tree without variant folders."""

    shared: Path
    run: Path
    variant: str | None = None

    def per_variant(self, root: Path, relative: str) -> Path:
        """``root/<stage folder>/<variant>/<rest>`` for ``relative`` = ``<stage folder>/<rest>``."""
        folder, rest = relative.split("/", 1)
        return root / folder / self.variant / rest if self.variant else root / relative

    def table_path(self, name: str) -> Path:
        """Where the table ``name`` of ``TABLE_PATHS`` is read from."""
        if name in DATA_TABLES:
            return self.shared / TABLE_PATHS[name]
        if name in RUN_TABLES:
            return self.run / TABLE_PATHS[name]
        return self.per_variant(self.shared, TABLE_PATHS[name])


@dataclass(frozen=True)
class Example:
    """One example row: thumbnails of an image and of its maps and masks, plus its labels.

    ``maps`` maps a method to its [0, 1] map; ``masks`` maps a stage (or ``"truth"``) to a boolean
    mask. Both hold only what exists on disk, resized to the thumbnail size of ``image``.
    """

    image_id: str
    dx: str
    predicted_dx: str
    dice: dict[str, float]
    image: np.ndarray
    maps: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]


# --- reading ---------------------------------------------------------------------------------


def read_optional_csv(path: Path) -> pd.DataFrame | None:
    """Read a CSV (ids as strings), or return ``None`` when it is missing or has no rows."""
    if not path.is_file():
        return None
    table = pd.read_csv(path, dtype={"image_id": str})
    return None if table.empty else table


def of_variant(table: pd.DataFrame | None, variant: str | None) -> pd.DataFrame | None:
    """The rows of one variant of a run table (all rows without a ``variant`` column)."""
    if table is None or variant is None or "variant" not in table.columns:
        return table
    rows = table[table["variant"] == variant].drop(columns="variant").reset_index(drop=True)
    return None if rows.empty else rows


def load_tables(dirs: RunDirs) -> RunTables:
    """Read every CSV the report uses for one variant (``RunDirs.table_path``)."""
    tables = {name: read_optional_csv(dirs.table_path(name)) for name in TABLE_PATHS}
    return RunTables(variant=dirs.variant, **{
        name: of_variant(table, dirs.variant) if name in RUN_TABLES else table
        for name, table in tables.items()})


def report_variants(run_dir: Path) -> list[str | None]:
    """The classifier variants in the run's summary table, in order ([None] without variants);
    the U-Net's rows (variant ``supervised``) and the stages without classifier (variant
    ``image_prior``) belong to none."""
    summary = read_optional_csv(run_dir / TABLE_PATHS["summary"])
    if summary is None or "variant" not in summary.columns:
        return [None]
    classifier = (summary["stage"] != UNET_STAGE) & (summary["variant"] != IMAGE_PRIOR)
    variants = summary.loc[classifier, "variant"].astype(str)
    return list(dict.fromkeys(variants))


def stage_order(tables: RunTables) -> list[str]:
    """Stages in order of first appearance in per_image.csv, then any seen only in summary.csv."""
    frames = [t for t in (tables.per_image, tables.summary) if t is not None]
    return list(dict.fromkeys(str(s) for t in frames for s in t["stage"]))


def group_keys(table: pd.DataFrame) -> list[str]:
    """The columns a metrics table's rows are grouped by: variant (when present) and stage."""
    return [VARIANT, "stage"] if VARIANT in table.columns else ["stage"]


def stage_labels(table: pd.DataFrame) -> pd.Series:
    """Each row's stage as text: the label of a figure's bar or column. The figures are drawn
    per classifier variant (``of_variant`` drops the variant column), so no variant is shown."""
    return table["stage"].astype(str)


def sort_by_stage(table: pd.DataFrame, stages: list[str]) -> pd.DataFrame:
    """``table`` rows in the order of ``stages`` (stable, so variants keep their order)."""
    rank = {s: i for i, s in enumerate(stages)}
    return table.sort_values("stage", key=lambda column: column.astype(str).map(rank),
                             kind="stable")


def ordered_labels(table: pd.DataFrame, stages: list[str]) -> list[str]:
    """The distinct ``stage_labels`` of ``table``, stages in the order of ``stages``."""
    return list(dict.fromkeys(stage_labels(sort_by_stage(table, stages))))


def pipeline_rank(stage: str) -> int:
    """0 for an attribution-map mask, else 1 + the stage's position in ``PIPELINE_ORDER``."""
    kind = "graphcut_*" if stage.startswith("graphcut_") else stage
    return PIPELINE_ORDER.index(kind) + 1 if kind in PIPELINE_ORDER else 0


def pipeline_sorted(table: pd.DataFrame, first: str | None = None) -> pd.DataFrame:
    """Rows by variant (first appearance), then pipeline position of the stage (``first`` before
    all others), then original order."""
    def rank(stage: str) -> int:
        return -1 if stage == first else pipeline_rank(stage)

    keys = pd.DataFrame({"rank": table["stage"].astype(str).map(rank)}, index=table.index)
    if VARIANT in table.columns:
        variants = {v: i for i, v in enumerate(dict.fromkeys(table[VARIANT]))}
        keys.insert(0, VARIANT, table[VARIANT].map(variants))
    return table.loc[keys.sort_values(list(keys.columns), kind="stable").index]


def count_test_images(tables: RunTables) -> int | None:
    """Number of test images: manifest test rows, else distinct ids in per_image.csv."""
    if tables.manifest is not None:
        return int((tables.manifest["split"] == "test").sum())
    if tables.per_image is not None:
        return int(tables.per_image["image_id"].nunique())
    return None


# --- HTML helpers ----------------------------------------------------------------------------


def figure_to_data_uri(fig: Figure, dpi: int = 100) -> str:
    """Render ``fig`` as PNG and return it as a ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def figure_html(fig: Figure, alt: str) -> str:
    """An ``<img>`` element embedding ``fig``."""
    return f'<img src="{figure_to_data_uri(fig)}" alt="{html.escape(alt)}">'


def table_html(table: pd.DataFrame) -> str:
    """A table with 3-decimal floats, integer counts and empty cells for missing values."""
    counts = {c: (lambda v: "" if pd.isna(v) else str(int(v))) for c in COUNT_COLUMNS}
    return table.to_html(
        index=False,
        float_format="{:.3f}".format,
        na_rep="",
        border=0,
        formatters={c: f for c, f in counts.items() if c in table.columns},
    )


def note(text: str) -> str:
    """A highlighted remark, used where an input is missing."""
    return f'<p class="note">{html.escape(text)}</p>'


def missing_note(*relative_paths: str) -> str:
    """A note that some inputs were not found and the related part is skipped."""
    return note(f"Skipped: {', '.join(relative_paths)} not found or empty.")


def anchor_id(anchor: str, variant: str | None) -> str:
    """The HTML id of a section of one classifier variant."""
    return f"{anchor}-{variant}" if variant else anchor


def section(anchor: str, variant: str | None, parts: list[str]) -> str:
    """A ``<section>`` with the heading of ``SECTION_TITLES[anchor]`` (and the variant's name)."""
    heading = html.escape(SECTION_TITLES[anchor] + (f" — {variant}" if variant else ""))
    return (f'<section id="{anchor_id(anchor, variant)}">\n<h2>{heading}</h2>\n'
            + "\n".join(parts) + "\n</section>")


def page(title: str, sections: list[str]) -> str:
    """The whole HTML document."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(sections) + "\n</body>\n</html>\n"
    )


# --- figures ---------------------------------------------------------------------------------


def annotate_cells(ax: Axes, values: np.ndarray, fmt: str, white: np.ndarray) -> None:
    """Write each value of a heatmap into its cell; cells flagged in ``white`` get white text."""
    for (row, col), value in np.ndenumerate(values):
        text = "–" if np.isnan(value) else format(value, fmt)
        colour = "white" if white[row, col] else "black"
        ax.text(col, row, text, ha="center", va="center", fontsize=8, color=colour)


def summary_figure(summary: pd.DataFrame) -> Figure:
    """Grouped bars of mean Dice and mean Jaccard per row of ``summary`` (in its order)."""
    labels = stage_labels(summary).tolist()
    x = np.arange(len(labels))
    fig = Figure(figsize=(max(4.0, 1.3 * len(labels) + 1.5), 3.4), layout="constrained")
    ax = fig.subplots()
    for offset, column, label in ((-0.2, "dice_mean", "Dice"), (0.2, "jaccard_mean", "Jaccard")):
        bars = ax.bar(x + offset, summary[column], width=0.4, label=label)
        ax.bar_label(bars, fmt="%.3f", fontsize=7)
    ax.set_xticks(x, labels)
    ax.set(ylim=(0, 1.1), ylabel="mean over test images", title="Mean Dice and Jaccard per stage")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def dice_distribution_figure(per_image: pd.DataFrame, labels: list[str]) -> Figure:
    """Box plot of per-image Dice per stage label (``stage_labels``), with the individual images
    as jittered points."""
    row_labels = stage_labels(per_image)
    groups = [per_image.loc[row_labels == s, "dice"].dropna().to_numpy() for s in labels]
    fig = Figure(figsize=(max(4.0, 1.3 * len(labels) + 1.5), 3.4), layout="constrained")
    ax = fig.subplots()
    ax.boxplot(groups, tick_labels=labels, showmeans=True, showfliers=False)
    jitter = np.random.default_rng(0)
    for position, values in enumerate(groups, start=1):
        offsets = jitter.uniform(-0.12, 0.12, len(values))
        ax.scatter(position + offsets, values, s=8, alpha=0.4, color="tab:blue")
    ax.set(ylim=(-0.05, 1.05), ylabel="Dice", title="Dice distributions per stage")
    return fig


def stage_grid(table: pd.DataFrame, index: str, values: str, stages: list[str]) -> pd.DataFrame:
    """``values`` of ``table`` with a row per ``index`` value and a column per stage label
    (``stage_labels``, stages in the order of ``stages``)."""
    grid = table.assign(label=stage_labels(table)).pivot_table(index=index, columns="label",
                                                               values=values)
    return grid.reindex(columns=ordered_labels(table, stages)).rename_axis(columns=None)


def class_stage_dice(per_class: pd.DataFrame, stages: list[str]) -> pd.DataFrame:
    """Mean Dice per class (rows, ``CLASSES`` order, index ``dx``) and stage label (columns)."""
    grid = stage_grid(per_class, "dx", "dice_mean", stages)
    classes = class_names(grid.index)
    return grid.reindex(index=classes)


def class_stage_heatmap_figure(grid: pd.DataFrame) -> Figure:
    """Heatmap of a ``class_stage_dice`` grid, values written into the cells."""
    stages, classes = list(grid.columns), list(grid.index)
    fig = Figure(figsize=(1.1 * len(stages) + 2.5, 0.45 * len(classes) + 1.6), layout="constrained")
    ax = fig.subplots()
    values = grid.to_numpy(dtype=float)
    image = ax.imshow(values, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    annotate_cells(ax, values, ".3f", white=values < 0.5)
    ax.set_xticks(range(len(stages)), stages)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_title("Mean Dice per class and stage")
    fig.colorbar(image, ax=ax, label="mean Dice")
    return fig


def confusion_matrix_figure(predictions: pd.DataFrame) -> Figure:
    """Confusion matrix of test predictions (rows: true dx, columns: predicted dx) with counts."""
    classes = class_names([*predictions["dx"], *predictions["predicted_dx"]])
    counts = pd.crosstab(predictions["dx"], predictions["predicted_dx"])
    counts = counts.reindex(index=classes, columns=classes, fill_value=0).to_numpy()
    fig = Figure(figsize=(5.2, 4.4), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(counts, cmap="Blues")
    annotate_cells(ax, counts.astype(float), ".0f", white=counts > counts.max() / 2)
    ax.set_xticks(range(len(classes)), classes, rotation=45 if len(classes) > 7 else 0)
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="predicted dx", ylabel="true dx", title="Confusion matrix (test set)")
    fig.colorbar(image, ax=ax, label="images", ticks=MaxNLocator(integer=True))
    return fig


def training_curves_figure(history: pd.DataFrame) -> Figure:
    """Train and validation loss (left) and accuracy (right) per epoch; the right panel also
    shows the validation balanced accuracy (mean recall of the classes). Each ensemble member
    (``member`` column) has its own line style, in the colour of the column."""
    fig = Figure(figsize=(9.0, 3.2), layout="constrained")
    members = history.groupby("member") if "member" in history else [(0, history)]
    styles = ("-", "--", ":", "-.")
    for ax, metric in zip(fig.subplots(1, 2), ("loss", "accuracy")):
        columns = [f"train_{metric}", f"val_{metric}"]
        if metric == "accuracy" and "val_balanced_accuracy" in history:
            columns.append("val_balanced_accuracy")
        for m, (member, rows) in enumerate(members):
            for colour, column in enumerate(columns):
                label = column.removesuffix(f"_{metric}").replace("_", " ")
                ax.plot(rows["epoch"], rows[column], marker="o", ms=3, color=f"C{colour}",
                        ls=styles[m % len(styles)],
                        label=label if len(members) == 1 else f"{label}, member {member}")
        ax.set(xlabel="epoch", ylabel=metric, title=f"{metric.capitalize()} per epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8)
    return fig


# --- examples --------------------------------------------------------------------------------


def threshold_curve_figure(curves: pd.DataFrame, auto: dict[str, float]) -> Figure:
    """Mean Jaccard against threshold per method: test solid, validation dashed; the validation
    split's best threshold (what ``threshold: auto`` uses) marked on the test curve."""
    means = curves.groupby(["split", "method", "threshold"]).jaccard.mean()
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    for index, method in enumerate(dict.fromkeys(curves.method)):
        colour = f"C{index}"
        for split, style in (("test", "-"), ("val", "--")):
            if (split, method) in means.index.droplevel(2):
                line = means.loc[(split, method)]
                ax.plot(line.index, line.values, style, color=colour,
                        label=f"{method} ({split})")
        if method in auto and ("test", method) in means.index.droplevel(2):
            ax.plot(auto[method], means.loc[("test", method)].get(auto[method], np.nan), "o",
                    color=colour)
    ax.set(xlabel="threshold", ylabel="mean Jaccard vs lesion mask", xlim=(0, 1))
    ax.legend(fontsize=8)
    return fig


def deletion_figure(summary: pd.DataFrame) -> Figure:
    """Mean drop of the predicted-class probability against the deleted fraction per method."""
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.subplots()
    for method, rows in summary.groupby("method", sort=False):
        style = "k:" if method == "random" else "-o"
        ax.plot(rows.fraction, rows.drop_mean, style, label=method)
    ax.set(xlabel="fraction of top-attributed pixels blurred",
           ylabel="mean probability drop")
    ax.legend(fontsize=8)
    return fig


def ranking_stage(stages: list[str]) -> str:
    """The stage whose Dice orders the examples: graph cut, else the last stage."""
    return RANKING_STAGE if RANKING_STAGE in stages else stages[-1]


def pick_examples(per_image: pd.DataFrame, n: int, stage: str) -> list[str]:
    """Ids of up to ``n`` images at evenly spaced ranks of ``stage`` Dice, best first."""
    ranked = per_image[per_image["stage"] == stage].sort_values(
        ["dice", "image_id"], ascending=[False, True]
    ).drop_duplicates("image_id")
    if n <= 0 or ranked.empty:
        return []
    positions = np.linspace(0, len(ranked) - 1, min(n, len(ranked))).round().astype(int)
    return ranked["image_id"].iloc[np.unique(positions)].tolist()


def find_shard(dirs: RunDirs, image_id: str) -> str | None:
    """The shard holding an image's masks (found via its fused mask), or ``None``."""
    hits = sorted(dirs.per_variant(dirs.run, "masks/fused").glob(f"*/{image_id}.png"))
    return hits[0].parent.name if hits else None


def thumbnail(array: np.ndarray, width: int = THUMBNAIL_WIDTH) -> np.ndarray:
    """Resize an image or map to ``width`` pixels wide, keeping the aspect ratio."""
    height = max(1, round(array.shape[0] * width / array.shape[1]))
    return cv2.resize(array, (width, height), interpolation=cv2.INTER_AREA)


def thumbnail_mask(mask: np.ndarray) -> np.ndarray:
    """Resize a boolean mask to thumbnail size."""
    return thumbnail(mask.astype(np.uint8) * 255) > 127


def read_example_masks(dirs: RunDirs, shard: str | None, image_id: str,
                       stages: list[str], truth_path: Path | None) -> dict[str, np.ndarray]:
    """Thumbnail masks of every stage found on disk, plus the ground truth if it exists."""
    paths = {TRUTH: truth_path} if truth_path is not None else {}
    if shard is not None:
        paths |= {s: dirs.per_variant(dirs.run, f"masks/{s}/{shard}/{image_id}.png")
                  for s in stages}
    return {key: thumbnail_mask(read_mask(p)) for key, p in paths.items() if p.is_file()}


def read_example_maps(dirs: RunDirs, shard: str | None, image_id: str) -> dict[str, np.ndarray]:
    """Thumbnail attribution maps of every method in ``MAP_TITLES`` found on disk."""
    if shard is None:
        return {}
    directory = dirs.per_variant(dirs.shared, f"attribution/{shard}")
    paths = {m: attribution_path(directory, image_id, m) for m in MAP_TITLES}
    return {m: thumbnail(read_attribution(p).values) for m, p in paths.items() if p.is_file()}


def predicted_dx(predictions: pd.DataFrame | None, image_id: str) -> str:
    """The classifier's predicted dx for an image, or ``"n/a"`` when unknown."""
    if predictions is None:
        return "n/a"
    hits = predictions.loc[predictions["image_id"] == image_id, "predicted_dx"]
    return str(hits.iloc[0]) if len(hits) else "n/a"


def load_example(dirs: RunDirs, image_id: str, tables: RunTables,
                 stages: list[str]) -> Example | None:
    """Gather one example's thumbnails and labels; ``None`` when its image is not available."""
    records = tables.manifest[tables.manifest["image_id"] == image_id]
    if records.empty:
        return None
    record = records.iloc[0]
    try:
        image = thumbnail(read_rgb(record["image_path"]))
    except ValueError:
        return None
    rows = tables.per_image[tables.per_image["image_id"] == image_id]
    shard = find_shard(dirs, image_id)
    return Example(
        image_id=image_id,
        dx=str(record["dx"]),
        predicted_dx=predicted_dx(tables.predictions, image_id),
        dice=dict(zip(rows["stage"].astype(str), rows["dice"])),
        image=image,
        maps=read_example_maps(dirs, shard, image_id),
        masks=read_example_masks(dirs, shard, image_id, stages, truth_path(record)),
    )


def truth_path(record: pd.Series) -> Path | None:
    """A manifest row's ground-truth mask path, or None for an image without one."""
    return Path(record["mask_path"]) if record.get("has_mask", True) else None


def jet_overlay(image: np.ndarray, values: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a [0, 1] map, coloured with the jet colormap, over an RGB image."""
    heat = matplotlib.colormaps["jet"](np.clip(values, 0, 1))[..., :3] * 255
    return (alpha * heat + (1 - alpha) * image).astype(np.uint8)


def outline(image: np.ndarray, mask: np.ndarray | None, colour: tuple[int, int, int],
            thickness: int = 2) -> np.ndarray:
    """A copy of ``image`` with the outer contours of ``mask`` drawn in ``colour``."""
    drawn = image.copy()
    if mask is not None:
        contours, _ = cv2.findContours(
            mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
        )
        cv2.drawContours(drawn, contours, -1, colour, thickness)
    return drawn


def example_columns(stages: list[str]) -> dict[str, str]:
    """Candidate grid columns, key → title: image, maps, mask stages, ground truth."""
    masks = {s: MASK_TITLES.get(s, f"{s} mask") for s in stages if s not in MAP_TITLES}
    return {"image": "Image", **MAP_TITLES, **masks, TRUTH: "Ground truth"}


def example_cell(example: Example, key: str) -> np.ndarray | None:
    """The picture of one grid cell, or ``None`` when its input is missing.

    Maps are jet overlays with the binarised map's contour; masks are contours on the image, with
    the ground truth as a thin second contour for comparison.
    """
    if key == "image":
        return example.image
    if key in MAP_TITLES:
        values = example.maps.get(key)
        if values is None:
            return None
        overlay = jet_overlay(example.image, values)
        return outline(overlay, example.masks.get(key), PREDICTION_COLOUR)
    mask = example.masks.get(key)
    if mask is None:
        return None
    if key == TRUTH:
        return outline(example.image, mask, TRUTH_COLOUR)
    drawn = outline(example.image, mask, PREDICTION_COLOUR)
    return outline(drawn, example.masks.get(TRUTH), TRUTH_COLOUR, thickness=1)


def example_grid(examples: list[Example], stages: list[str]
                 ) -> tuple[dict[str, str], list[list[np.ndarray | None]], list[str]]:
    """Columns (key → title) that have data, their cells per example, and skipped-column notes."""
    candidates = example_columns(stages)
    cells = [[example_cell(e, key) for key in candidates] for e in examples]
    keep = [any(row[j] is not None for row in cells) for j in range(len(candidates))]
    columns = {k: t for (k, t), kept in zip(candidates.items(), keep) if kept}
    notes = [f"{t}: no input found for the shown examples; column skipped."
             for t, kept in zip(candidates.values(), keep) if not kept]
    return columns, [[c for c, kept in zip(row, keep) if kept] for row in cells], notes


def row_label(example: Example, stage: str) -> str:
    """The label left of an example row: id, true and predicted dx, ranking-stage Dice."""
    dice = example.dice.get(stage, float("nan"))
    return (f"{example.image_id}\ndx: {example.dx}\npredicted: {example.predicted_dx}\n"
            f"{stage} Dice: {dice:.3f}")


def example_grid_figure(examples: list[Example], columns: dict[str, str],
                        cells: list[list[np.ndarray | None]], stage: str) -> Figure:
    """One row per example, one column per input (titles on top, per-cell stage Dice below)."""
    aspect = max(e.image.shape[0] / e.image.shape[1] for e in examples)
    cell_width = THUMBNAIL_WIDTH / 100
    width = cell_width * len(columns) + 1.3
    height = (cell_width * aspect + 0.3) * len(examples) + 0.3
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(len(examples), len(columns), squeeze=False)
    for row, (example, pictures) in enumerate(zip(examples, cells)):
        for col, (key, picture) in enumerate(zip(columns, pictures)):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if picture is None:
                ax.text(0.5, 0.5, "missing", ha="center", va="center", transform=ax.transAxes)
            else:
                ax.imshow(picture)
            if key in example.dice:
                ax.set_xlabel(f"Dice {example.dice[key]:.3f}", fontsize=8)
        axes[row, 0].set_ylabel(row_label(example, stage), fontsize=8, rotation=0,
                                ha="right", va="center")
    for ax, title in zip(axes[0], columns.values()):
        ax.set_title(title, fontsize=10)
    return fig


def error_overlay(image: np.ndarray, prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``image`` with the TP, FP and FN pixels of ``prediction`` against ``truth`` (boolean masks
    of the image's size) tinted in the ``ERROR_COLOURS``; TN pixels unchanged."""
    drawn = image.astype(np.float32)
    pixel_classes = (prediction & truth, prediction & ~truth, ~prediction & truth)
    for pixels, colour in zip(pixel_classes, ERROR_COLOURS.values()):
        drawn[pixels] = (1 - ERROR_ALPHA) * drawn[pixels] + ERROR_ALPHA * np.array(colour)
    return drawn.astype(np.uint8)


def gallery_figure(tiles: list[tuple[np.ndarray, str]],
                   legend: dict[str, tuple[int, int, int]]) -> Figure:
    """Pictures with their titles, ``GALLERY_COLUMNS`` a row, and a legend of RGB colours."""
    n_cols = min(GALLERY_COLUMNS, len(tiles))
    n_rows = -(-len(tiles) // n_cols)
    aspect = max(picture.shape[0] / picture.shape[1] for picture, _ in tiles)
    width = 1.2 * THUMBNAIL_WIDTH / 100
    fig = Figure(figsize=(width * n_cols, (width * aspect + 0.5) * n_rows + 0.4),
                 layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, (picture, title) in zip(axes.flat, tiles):
        ax.imshow(picture)
        ax.set_title(title, fontsize=8)
    handles = [Patch(color=np.array(rgb) / 255, label=label) for label, rgb in legend.items()]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
    return fig


def tile_title(example: Example, stage: str) -> str:
    """A gallery title: id, true and predicted dx, ``stage`` Dice."""
    dice = example.dice.get(stage, float("nan"))
    return (f"{example.image_id}: {example.dx} (predicted {example.predicted_dx})\n"
            f"{stage} Dice {dice:.3f}")


def error_gallery(examples: list[Example], stage: str) -> list[str]:
    """Heading and TP/FP/FN figure of ``stage`` for the examples that have its mask and the
    truth, or a note when none has."""
    tiles = [(error_overlay(e.image, e.masks[stage], e.masks[TRUTH]), tile_title(e, stage))
             for e in examples if stage in e.masks and TRUTH in e.masks]
    heading = f"<h3>Pixel errors of {html.escape(stage)} (paper 004 Fig. 7 style)</h3>"
    if not tiles:
        return [heading, note(f"No {stage} mask with ground truth among the examples.")]
    figure = gallery_figure(tiles, ERROR_COLOURS)
    return [heading, "<p>Green: lesion found (TP); red: over-segmentation (FP); blue: missed "
            "lesion (FN).</p>", figure_html(figure, f"TP/FP/FN of {stage}")]


def example_inputs_note(tables: RunTables) -> str | None:
    """The missing-input note of the image sections, or ``None`` when per_image.csv and the
    manifest are there."""
    if tables.per_image is None or tables.manifest is None:
        return missing_note(TABLE_PATHS["per_image"], TABLE_PATHS["manifest"])
    return None


def ranked_examples(dirs: RunDirs, tables: RunTables, stages: list[str],
                    pick: Callable[[pd.DataFrame, str], list[str]]
                    ) -> tuple[str, list[str], list[Example], list[str]]:
    """The main stage (``ranking_stage``), the ids ``pick(per_image, stage)`` chooses, their
    loadable examples (in order) and a note per image that could not be read."""
    stage = ranking_stage(stages)
    ids = pick(tables.per_image, stage)
    loaded = [load_example(dirs, i, tables, stages) for i in ids]
    notes = [f"{i}: image not in the manifest or unreadable; skipped."
             for i, e in zip(ids, loaded) if e is None]
    return stage, ids, [e for e in loaded if e is not None], notes


def worst_images(per_image: pd.DataFrame, n: int, stage: str) -> list[str]:
    """Ids of the ``n`` images with the lowest ``stage`` Dice, worst first (ties by id)."""
    ranked = per_image[per_image["stage"] == stage].sort_values(["dice", "image_id"])
    return list(dict.fromkeys(ranked["image_id"]))[:n]


def worst_table(tables: RunTables, ids: list[str], stages: list[str]) -> pd.DataFrame:
    """Per image of ``ids`` (in order): dx, predicted dx and the Dice of every stage."""
    rows = tables.per_image[tables.per_image["image_id"].isin(ids)]
    grid = stage_grid(rows, "image_id", "dice", stages).reindex(ids)
    grid.insert(0, "dx", rows.drop_duplicates("image_id").set_index("image_id")["dx"])
    grid.insert(1, "predicted dx", [predicted_dx(tables.predictions, i) for i in ids])
    return grid.reset_index()


def failures_section(dirs: RunDirs, tables: RunTables, stages: list[str]) -> str:
    """The ``N_WORST`` test images by Dice of the main stage (paper 000 Fig. 6): gallery of image,
    truth and prediction outlines, and their Dice in every stage."""
    if missing := example_inputs_note(tables):
        return section("failures", tables.variant, [missing])
    stage, ids, examples, notes = ranked_examples(
        dirs, tables, stages, lambda per_image, main: worst_images(per_image, N_WORST, main))
    parts = [f"<p>The {len(ids)} test images with the lowest {html.escape(stage)} Dice, worst "
             "first: where the method fails (compare the attribution-map stages).</p>",
             table_html(worst_table(tables, ids, stages))]
    if examples:
        tiles = [(outline(outline(e.image, e.masks.get(TRUTH), TRUTH_COLOUR), e.masks.get(stage),
                          PREDICTION_COLOUR), tile_title(e, stage)) for e in examples]
        legend = {"ground truth": TRUTH_COLOUR, f"{stage} prediction": PREDICTION_COLOUR}
        parts.append(figure_html(gallery_figure(tiles, legend), f"worst {stage} images"))
    return section("failures", tables.variant, parts + [note(n) for n in notes])


def examples_section(dirs: RunDirs, tables: RunTables, stages: list[str],
                     n_examples: int) -> str:
    """Example rows as in paper 000 Figs 2–5, chosen across the graph-cut Dice range."""
    if missing := example_inputs_note(tables):
        return section("examples", tables.variant, [missing])
    stage, _, examples, notes = ranked_examples(
        dirs, tables, stages, lambda per_image, main: pick_examples(per_image, n_examples, main))
    if not examples:
        return section("examples", tables.variant, [note("No examples to show."), *map(note, notes)])
    columns, cells, column_notes = example_grid(examples, stages)
    intro = (
        f"<p>{len(examples)} test images at evenly spaced ranks of {html.escape(stage)} Dice, best "
        "first. Yellow: predicted mask (on maps: the binarised map); cyan: ground truth.</p>"
    )
    figure = figure_html(example_grid_figure(examples, columns, cells, stage), "example rows")
    return section("examples", tables.variant, [intro, figure, *map(note, notes + column_notes),
                                *error_gallery(examples, stage)])


# --- segmentations: the deliverable ------------------------------------------------------------


def mask_coverage(manifest: pd.DataFrame | None) -> str:
    """"N of M images have a ground-truth mask; scores use those only." (or that none has)."""
    if manifest is None:
        return "The manifest is missing: ground-truth coverage unknown."
    n, total = int(manifest["has_mask"].sum()), len(manifest)
    if n == 0:
        return (f"None of the {total} images has a ground-truth mask: the scoring stages "
                "(threshold study, U-Net baseline, evaluate) were left out.")
    return f"{n} of {total} images have a ground-truth mask; scores use those only."


def by_class_figure(table: pd.DataFrame, column: str, title: str) -> Figure:
    """Box plot of ``column`` of the segmentations table per class (sorted names)."""
    classes = class_names(table["dx"])
    groups = [table.loc[table["dx"] == c, column].to_numpy() for c in classes]
    fig = Figure(figsize=(max(4.0, 0.8 * len(classes) + 1.5), 3.2), layout="constrained")
    ax = fig.subplots()
    ax.boxplot(groups, tick_labels=classes, showfliers=True)
    ax.set(ylim=(-0.03, 1.03), ylabel=column.replace("_", " "), title=title)
    return fig


def exported_tile(run: Path, record: pd.Series,
                  manifest: pd.DataFrame) -> tuple[np.ndarray, str] | None:
    """The image with the exported mask's outline and a title (id, dx, confidence), or None
    when the image cannot be read."""
    rows = manifest[manifest["image_id"] == record["image_id"]]
    try:
        image = read_rgb(rows.iloc[0]["image_path"])
    except (IndexError, ValueError):
        return None
    mask = read_mask(run / "segmentations" / exported_mask_name(record["image_id"]))
    picture = outline(thumbnail(image), thumbnail_mask(mask), PREDICTION_COLOUR)
    return picture, (f"{record['image_id']}: {record['dx']}\nconfidence "
                     f"{record['confidence']:.2f}, area {record['area_fraction']:.2f}")


def confidence_gallery(run: Path, table: pd.DataFrame, manifest: pd.DataFrame,
                       title: str) -> str:
    """A gallery of the table's images (in order) with their exported outlines."""
    tiles = [t for t in (exported_tile(run, r, manifest) for _, r in table.iterrows())
             if t is not None]
    if not tiles:
        return note(f"{title}: no readable image.")
    stage = str(table["stage"].iloc[0])
    figure = gallery_figure(tiles, {f"exported mask ({stage})": PREDICTION_COLOUR})
    return f"<h3>{html.escape(title)}</h3>" + figure_html(figure, title)


def segmentations_section(run: Path, tables: RunTables, n_examples: int) -> str:
    """The deliverable: where the masks are, ground-truth coverage, status counts, area and
    confidence per class, the least and most confident images, the review list and (images
    with a mask) the exported folder's scores by split."""
    table = tables.segmentations
    if table is None or tables.manifest is None:
        return section("segmentations", None, [missing_note(TABLE_PATHS["segmentations"],
                                                            TABLE_PATHS["manifest"])])
    ranked = table.sort_values(["confidence", "image_id"])
    variant, stage = table["variant"].iloc[0], table["stage"].iloc[0]
    parts = [
        f"<p>{len(table)} masks ({html.escape(str(variant))}, stage {html.escape(str(stage))}) "
        f"in <code>{html.escape(str(run / 'segmentations'))}/</code>, one 0/255 PNG per image "
        f"named <code>&lt;image_id&gt;_segmentation.png</code>; status, area, label-free "
        f"confidence and prediction per image in <code>{TABLE_PATHS['segmentations']}</code>. "
        f"{html.escape(mask_coverage(tables.manifest))}</p>",
        table_html(table.groupby(["split", "status"], sort=False).size()
                   .rename("n_images").reset_index()),
        figure_html(by_class_figure(table, "confidence", "Label-free confidence per class"),
                    "confidence per class"),
        figure_html(by_class_figure(table, "area_fraction", "Lesion area (share of the image) "
                                    "per class"), "area per class"),
        confidence_gallery(run, ranked.head(n_examples), tables.manifest,
                           f"The {n_examples} least confident: check these first"),
        confidence_gallery(run, ranked.tail(n_examples).iloc[::-1], tables.manifest,
                           f"The {n_examples} most confident"),
        f"<details><summary>Review list: the {N_REVIEW} least confident images</summary>"
        f"{table_html(ranked.head(N_REVIEW))}</details>",
    ]
    if tables.segmentation_scores is not None:
        parts += ["<h3>The exported masks against the ground truth, split by split (images "
                  "with a mask)</h3>", table_html(tables.segmentation_scores)]
    return section("segmentations", None, parts)


# --- sections --------------------------------------------------------------------------------


def header_section(title: str, tables: RunTables, stages: list[str],
                   config: dict[str, Any] | None, variants: list[str | None]) -> str:
    """Title, test-image count, stages, rejected inputs, the collapsible run configuration and
    one line of section links per classifier variant."""
    n_test = count_test_images(tables)
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Test images: {'unknown' if n_test is None else n_test}. "
        f"Stages: {html.escape(', '.join(stages) or 'none')}. "
        f"{html.escape(mask_coverage(tables.manifest))}</p>",
    ]
    if tables.rejected is not None:
        parts.append(f"<details><summary>Inputs left out by ingest: {len(tables.rejected)} "
                     f"({TABLE_PATHS['rejected']}; first {MAX_REJECTED_ROWS} below)</summary>"
                     f"{table_html(tables.rejected.head(MAX_REJECTED_ROWS))}</details>")
    if config is not None:
        text = json.dumps(config, indent=2, default=str)
        parts.append("<details><summary>Configuration</summary>"
                     f"<pre>{html.escape(text)}</pre></details>")
    lines = [(None, COMPARISON_SECTIONS)] + [
        (v, [a for a in SECTION_TITLES if a not in COMPARISON_SECTIONS]) for v in variants]
    for variant, anchors in lines:
        links = " | ".join(f'<a href="#{anchor_id(a, variant)}">{html.escape(SECTION_TITLES[a])}</a>'
                           for a in anchors)
        label = f"<b>{html.escape(variant)}</b>: " if variant else ""
        parts.append(f"<nav>{label}{links}</nav>")
    return "<header>\n" + "\n".join(parts) + "\n</header>"


def summary_section(tables: RunTables, stages: list[str]) -> str:
    """summary.csv as a table, mean Dice/Jaccard bars and per-image Dice distributions."""
    if tables.summary is None:
        return section("summary", tables.variant, [missing_note(TABLE_PATHS["summary"])])
    ordered = sort_by_stage(tables.summary, stages)
    bars = summary_figure(ordered)
    parts = [table_html(ordered), "<h3>Mean Dice and Jaccard per stage</h3>",
             figure_html(bars, "mean Dice and Jaccard per stage"),
             "<h3>Dice distributions per stage</h3>"]
    if tables.per_image is None:
        parts.append(missing_note(TABLE_PATHS["per_image"]))
    else:
        labels = ordered_labels(tables.per_image, stages)
        figure = dice_distribution_figure(tables.per_image, labels)
        parts.append(figure_html(figure, "Dice distributions per stage"))
    return section("summary", tables.variant, parts)


def per_class_section(tables: RunTables, stages: list[str]) -> str:
    """Mean Dice per class × stage as a table and heatmap; all of summary_per_class.csv folded."""
    if tables.per_class is None:
        return section("per-class", tables.variant, [missing_note(TABLE_PATHS["per_class"])])
    grid = class_stage_dice(tables.per_class, stages)
    figure = class_stage_heatmap_figure(grid)
    return section("per-class", tables.variant, ["<h3>Mean Dice per class and stage</h3>",
                                 table_html(grid.reset_index()),
                                 figure_html(figure, "mean Dice per class and stage"),
                                 "<details><summary>All metrics per class and stage "
                                 f"({TABLE_PATHS['per_class']})</summary>"
                                 f"{table_html(tables.per_class)}</details>"])


STUDENT_NAMES = {"student": "Self-training student (taught by the XAI graph cut)",
                 "student_graphcut": "Self-training student + graph cut",
                 "otsu_student": "Student taught by the Otsu graph cut (no classifier)",
                 "otsu_student_graphcut": "Otsu-taught student + graph cut (no classifier)"}
"""Readable names of the self-training stages (``xaicut.student``)."""


def is_xai_stage(stage: str) -> bool:
    """Whether a stage is a label-only segmentation: the fused mask, a graph cut or a student."""
    return stage in ("fused", RANKING_STAGE, *STUDENT_NAMES) or stage.startswith("graphcut_")


def method_name(stage: str) -> str:
    """A readable name of a segmentation stage for the comparison tables."""
    if stage == UNET_STAGE:
        return "U-Net (supervised)"
    if stage == "fused":
        return "XAI: fused attribution masks"
    if stage in STUDENT_NAMES:
        return STUDENT_NAMES[stage]
    if stage.startswith("graphcut_"):
        return f"XAI segmentation (graph cut, {stage.removeprefix('graphcut_')} seeds)"
    return "XAI segmentation (graph cut)" if stage == RANKING_STAGE else stage


def mean_sd(values: pd.Series) -> str:
    """``"mean ± SD"`` of per-image fractions (3 decimals, sample SD); the mean alone for one."""
    mean, sd = values.mean(), values.std()
    return f"{mean:.3f}" if pd.isna(sd) else f"{mean:.3f} ± {sd:.3f}"


def unet_vs_xai_table(per_image: pd.DataFrame) -> pd.DataFrame:
    """Paper 000 Table 2 form: per (variant and) stage of the U-Net and the XAI stages, the method
    name, image count, and Dice and Jaccard as mean ± SD over images; U-Net first."""
    stages = per_image["stage"].astype(str)
    rows = pipeline_sorted(per_image[(stages == UNET_STAGE) | stages.map(is_xai_stage)],
                           first=UNET_STAGE)
    keys = group_keys(rows)
    table = rows.groupby(keys, sort=False).agg(
        n_images=("dice", "count"), dice=("dice", mean_sd), jaccard=("jaccard", mean_sd)
    ).reset_index()
    table.insert(len(keys) - 1, "method", table["stage"].astype(str).map(method_name))
    return table.rename(columns={"dice": "Dice Score (mean ± SD)",
                                 "jaccard": "Jaccard Index (mean ± SD)"})


def unet_vs_xai_section(tables: RunTables) -> str:
    """The U-Net vs XAI table; a note when the U-Net stage was not run."""
    if tables.per_image is None:
        return section("unet-vs-xai", None, [missing_note(TABLE_PATHS["per_image"])])
    parts = ["<p>As paper 000 Table 2: the U-Net learns from the ground-truth masks, the XAI "
             "stages from class labels only. Mean ± sample SD over the test images.</p>",
             table_html(unet_vs_xai_table(tables.per_image))]
    if UNET_STAGE not in set(tables.per_image["stage"].astype(str)):
        parts.append(note(f"The supervised baseline (stage {UNET_STAGE}) was not run: "
                          "XAI rows only."))
    return section("unet-vs-xai", None, parts)


def means_table(summary: pd.DataFrame) -> pd.DataFrame:
    """A summary table's group keys, image count and every mean, stages in pipeline order."""
    means = [c for c in summary.columns if c.endswith("_mean")]
    return pipeline_sorted(summary)[group_keys(summary) + ["n_images", *means]]


def ablation_section(tables: RunTables) -> str:
    """Mean of every metric per stage (per variant and stage when summary.csv has variants),
    stages in pipeline order."""
    if tables.summary is None:
        return section("ablation", None, [missing_note(TABLE_PATHS["summary"])])
    summary = tables.summary
    table = means_table(summary)
    grouping = " per classifier variant" if VARIANT in summary.columns else ""
    intro = (f"<p>Mean scores over the test images{grouping}, stages in pipeline order: "
             "attribution-map masks, fused mask, Otsu baseline, graph cuts, U-Net.</p>")
    return section("ablation", None, [intro, table_html(table)])


def cross_dataset_section(run_dir: Path, datasets: list[str]) -> str:
    """Per external dataset (config ``external``), the mean scores of every variant and stage
    (``{run}/external/<name>/metrics/summary.csv``)."""
    if not datasets:
        return section("cross-dataset", None, [note(
            "No external dataset in this run (config <code>external</code>: name → folder in the "
            "HAM10000 layout, segmented with the models trained here).")])
    parts = ["<p>Models and thresholds come from the training dataset; nothing is fitted on "
             "these images.</p>"]
    for name in datasets:
        relative = f"external/{name}/{TABLE_PATHS['summary']}"
        summary = read_optional_csv(run_dir / relative)
        parts += [f"<h3>{html.escape(name)}</h3>",
                  missing_note(relative) if summary is None else table_html(means_table(summary))]
    return section("cross-dataset", None, parts)


def our_results(summary: pd.DataFrame) -> pd.DataFrame:
    """This run's main XAI stage and U-Net (when run) in the columns of ``published_table``,
    means to 3 decimals."""
    stages = summary["stage"].astype(str)
    rows = pipeline_sorted(summary[stages.isin([UNET_STAGE, RANKING_STAGE])], first=UNET_STAGE)
    results = []
    for _, row in rows.iterrows():
        variant = f" [{row[VARIANT]}]" if VARIANT in row.index else ""
        described = ("this run", TABLE_PATHS["summary"],
                     f"HAM10000, this run's test split ({int(row['n_images'])} images)",
                     method_name(str(row["stage"])) + variant,
                     "pixel masks" if row["stage"] == UNET_STAGE else "class labels")
        cells = {METRIC_TITLES[m]: f"{row[f'{m}_mean']:.3f}" for m in METRICS
                 if f"{m}_mean" in row.index}
        results.append(dict(zip(TABLE_COLUMNS, described), **cells,
                            **{"As published": "means over images"}))
    return pd.DataFrame(results)


def published_section(tables: RunTables) -> str:
    """This run's results beside the published ones of papers 000, 002 and 004."""
    published = published_table()
    parts = ["<p>Published numbers are quoted as printed (percentages with %), with the table "
             "they come from. <strong>They were obtained on the papers' own datasets, splits, "
             "image sizes and protocols and are not comparable 1:1 with this run.</strong> "
             "Paper 002 reports mIOU, shown under Jaccard (it may average lesion and "
             "background).</p>"]
    if tables.summary is None:
        parts.append(missing_note(TABLE_PATHS["summary"]))
        combined = published
    else:
        combined = pd.concat([our_results(tables.summary), published], ignore_index=True)
    return section("published", None, parts + [table_html(combined.fillna(""))])


def attribution_section(tables: RunTables, dirs: RunDirs) -> str:
    """Paper 001's threshold study (tables and curves) and the deletion-faithfulness scores."""
    parts = []
    if tables.threshold_curves is None or tables.best_thresholds is None:
        parts.append(missing_note(TABLE_PATHS["threshold_curves"]))
    else:
        auto_path = dirs.per_variant(dirs.shared, AUTO_THRESHOLDS)
        auto = json.loads(auto_path.read_text()) if auto_path.is_file() else {}
        best = tables.best_thresholds
        test = best[best.split == "test"]
        parts += ["<h3>Mean Jaccard of the binarised map against threshold</h3>",
                  figure_html(threshold_curve_figure(tables.threshold_curves, auto),
                              "mean Jaccard against threshold"),
                  "<p>Best threshold per method on the validation split (used by "
                  f"<code>threshold_method: auto</code>): {html.escape(json.dumps(auto))}</p>",
                  "<h3>Best threshold per method and class, test split (paper 001 Tables 2-3)</h3>",
                  table_html(test), "<h3>Validation split</h3>",
                  table_html(best[best.split == "val"])]
        for heading, table in (
            ("Correct vs wrong classification, test split (Tables 4-5)", tables.by_outcome),
            ("Mann-Whitney U, correct vs wrong, test split (Table 6)", tables.mann_whitney),
        ):
            if table is not None:
                parts += [f"<h3>{heading}</h3>", table_html(table[table.split == "test"])]
    parts.append("<h3>Deletion faithfulness (paper 003)</h3>")
    if tables.deletion is None:
        parts.append(missing_note(TABLE_PATHS["deletion"]))
    else:
        parts += ["<p>Drop of the predicted-class probability when the top-attributed pixels are "
                  "blurred away; <code>random</code> deletes as many random pixels.</p>",
                  figure_html(deletion_figure(tables.deletion), "deletion curves"),
                  table_html(tables.deletion)]
    return section("attribution", tables.variant, parts)


def classifier_section(tables: RunTables) -> str:
    """Classification report (paper 000 Table 1), confusion matrix and training curves."""
    sources = (
        ("Classification report (test set)", tables.class_report, "class_report", table_html),
        ("Confusion matrix", tables.predictions, "predictions",
         lambda t: figure_html(confusion_matrix_figure(t), "confusion matrix")),
        ("Training curves", tables.history, "history",
         lambda t: figure_html(training_curves_figure(t), "training curves")),
    )
    parts = [f"<h3>{heading}</h3>\n"
             + (missing_note(TABLE_PATHS[name]) if table is None else render(table))
             for heading, table, name, render in sources]
    return section("classifier", tables.variant, parts)


# --- entry points ----------------------------------------------------------------------------


def build_report(
    results_dir: str | os.PathLike,
    out_html: str | os.PathLike,
    n_examples: int = 8,
    title: str = "xaicut report",
    config: dict | None = None,
    run_dir: str | os.PathLike | None = None,
    external: list[str] | None = None,
    variants: list[str] | None = None,
) -> None:
    """Write the self-contained HTML report of a run to ``out_html``.

    ``results_dir``: the workflow's results folder (data, models, maps, threshold studies);
    ``run_dir``: the run's folder with masks and metrics (``results_dir/runs/<run>``;
    None = ``results_dir`` itself, a flat tree). The model-specific sections are repeated for
    each classifier variant in ``variants`` (None: those of the run's ``summary.csv``).
    ``external``: names of the external
    datasets scored in the run (None: every ``run_dir/external/<name>/`` found).
    """
    shared, run = Path(results_dir), Path(run_dir if run_dir is not None else results_dir)
    variants = report_variants(run) if variants is None else variants
    every_variant = load_tables(RunDirs(shared, run))
    sections = [
        header_section(title, every_variant, stage_order(every_variant), config, variants),
        segmentations_section(run, every_variant, n_examples),
        unet_vs_xai_section(every_variant),
        ablation_section(every_variant),
        published_section(every_variant),
        cross_dataset_section(run, external if external is not None else sorted(
            p.name for p in (run / "external").glob("*") if p.is_dir())),
    ]
    for variant in variants:
        dirs = RunDirs(shared, run, variant)
        tables = load_tables(dirs)
        stages = stage_order(tables)
        sections += [
            summary_section(tables, stages),
            per_class_section(tables, stages),
            attribution_section(tables, dirs),
            classifier_section(tables),
            examples_section(dirs, tables, stages, n_examples),
            failures_section(dirs, tables, stages),
        ]
    with atomic_path(out_html) as tmp:
        tmp.write_text(page(title, sections), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """CLI: ``python -m xaicut.report RESULTS_DIR OUT_HTML [--run NAME] [--n-examples N]``."""
    parser = argparse.ArgumentParser(description="Write the HTML report of an xaicut run.")
    parser.add_argument("results_dir", type=Path, help="the workflow's results directory")
    parser.add_argument("out_html", type=Path, help="the HTML file to write")
    parser.add_argument("--run", help="run name: masks and metrics under RESULTS_DIR/runs/NAME")
    parser.add_argument("--n-examples", type=int, default=8, help="example rows (default 8)")
    args = parser.parse_args(argv)
    run_dir = args.results_dir / "runs" / args.run if args.run else None
    build_report(args.results_dir, args.out_html, n_examples=args.n_examples, run_dir=run_dir)


if __name__ == "__main__":
    main()
