"""Picture grids of the report (matplotlib): the example rows and the galleries of titled tiles."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from xaicut.report.examples import Example, grid_cell, row_label
from xaicut.report.overlays import THUMBNAIL_WIDTH

GALLERY_COLUMNS = 5
"""Tiles per gallery row."""


def example_grid_figure(examples: list[Example], columns: dict[str, str], stage: str) -> Figure:
    """One row per example, one column per key of ``columns`` (titles on top, each stage's Dice
    below its mask); rows labelled with ``stage``'s Dice."""
    aspect = max(e.image.shape[0] / e.image.shape[1] for e in examples)
    cell_width = THUMBNAIL_WIDTH / 100
    fig = Figure(figsize=(cell_width * len(columns) + 1.3,
                          (cell_width * aspect + 0.3) * len(examples) + 0.3), layout="constrained")
    axes = fig.subplots(len(examples), len(columns), squeeze=False)
    for row, example in enumerate(examples):
        for col, key in enumerate(columns):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.imshow(grid_cell(example, key))
            if key in example.dice:
                ax.set_xlabel(f"Dice {example.dice[key]:.3f}", fontsize=8)
        axes[row, 0].set_ylabel(row_label(example, stage), fontsize=8, rotation=0,
                                ha="right", va="center")
    for ax, title in zip(axes[0], columns.values()):
        ax.set_title(title, fontsize=10)
    return fig


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
