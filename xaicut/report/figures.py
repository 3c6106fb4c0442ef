"""The report's charts (matplotlib ``Figure`` objects, drawn without pyplot): scores per stage
and class, the classifier's confusion matrix and training curves, the threshold study and the
deletion curves, the exported masks' confidence and area per class."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from xaicut.classes import class_names


def _stage_width(n_stages: int) -> float:
    """Figure width, inches, of a chart with one group per stage."""
    return max(4.0, 1.3 * n_stages + 1.5)


def _annotate_cells(ax: Axes, values: np.ndarray, fmt: str, white: np.ndarray) -> None:
    """Write each value of a heatmap into its cell; cells flagged in ``white`` get white text."""
    for (row, col), value in np.ndenumerate(values):
        text = "–" if np.isnan(value) else format(value, fmt)
        colour = "white" if white[row, col] else "black"
        ax.text(col, row, text, ha="center", va="center", fontsize=8, color=colour)


def summary_figure(summary: pd.DataFrame) -> Figure:
    """Grouped bars of mean Dice and mean Jaccard per row (stage) of ``summary``, in its order."""
    labels = summary["stage"].astype(str).tolist()
    x = np.arange(len(labels))
    fig = Figure(figsize=(_stage_width(len(labels)), 3.4), layout="constrained")
    ax = fig.subplots()
    for offset, column, label in ((-0.2, "dice_mean", "Dice"), (0.2, "jaccard_mean", "Jaccard")):
        bars = ax.bar(x + offset, summary[column], width=0.4, label=label)
        ax.bar_label(bars, fmt="%.3f", fontsize=7)
    ax.set_xticks(x, labels)
    ax.set(ylim=(0, 1.1), ylabel="mean over test images", title="Mean Dice and Jaccard per stage")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def dice_distribution_figure(per_image: pd.DataFrame, stages: list[str]) -> Figure:
    """Box plot of per-image Dice per stage of ``stages``, the images as jittered points."""
    groups = [per_image.loc[per_image["stage"] == s, "dice"].dropna().to_numpy() for s in stages]
    fig = Figure(figsize=(_stage_width(len(stages)), 3.4), layout="constrained")
    ax = fig.subplots()
    ax.boxplot(groups, tick_labels=stages, showmeans=True, showfliers=False)
    jitter = np.random.default_rng(0)
    for position, values in enumerate(groups, start=1):
        offsets = jitter.uniform(-0.12, 0.12, len(values))
        ax.scatter(position + offsets, values, s=8, alpha=0.4, color="tab:blue")
    ax.set(ylim=(-0.05, 1.05), ylabel="Dice", title="Dice distributions per stage")
    return fig


def class_stage_heatmap_figure(grid: pd.DataFrame) -> Figure:
    """Heatmap of mean Dice per class (rows) and stage (columns), values in the cells."""
    stages, classes = list(grid.columns), list(grid.index)
    fig = Figure(figsize=(1.1 * len(stages) + 2.5, 0.45 * len(classes) + 1.6), layout="constrained")
    ax = fig.subplots()
    values = grid.to_numpy(dtype=float)
    image = ax.imshow(values, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    _annotate_cells(ax, values, ".3f", white=values < 0.5)
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
    _annotate_cells(ax, counts.astype(float), ".0f", white=counts > counts.max() / 2)
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


def threshold_curve_figure(curves: pd.DataFrame, auto: dict[str, float]) -> Figure:
    """Mean Jaccard against threshold per method: test solid, validation dashed; the validation
    split's best threshold (what ``threshold_method: auto`` uses) marked on the test curve."""
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


def by_class_figure(table: pd.DataFrame, column: str, title: str) -> Figure:
    """Box plot of ``column`` (a [0, 1] value) of the segmentations table per class."""
    classes = class_names(table["dx"])
    groups = [table.loc[table["dx"] == c, column].to_numpy() for c in classes]
    fig = Figure(figsize=(max(4.0, 0.8 * len(classes) + 1.5), 3.2), layout="constrained")
    ax = fig.subplots()
    ax.boxplot(groups, tick_labels=classes, showfliers=True)
    ax.set(ylim=(-0.03, 1.03), ylabel=column.replace("_", " "), title=title)
    return fig
