"""Stage ``fuse``: binarise attribution maps and merge them into the graph-cut seed
(paper 000 §2.3).

Input: attribution maps in [0, 1] (``xaicut.attribution_store``). Output: per-method binary masks
and the fused mask (``docs/data-contracts.md`` §5). Thresholds are absolute, a per-image quantile,
or per-image Otsu (scikit-image), or per method the validation split's best (``auto``); fusion is
OpenCV's bitwise AND as in the paper, or OR, or one method.
With ``region: central`` every mask keeps only its most central large component, holes filled
(paper 004's connectivity and centrality, applied to the maps alone: no image evidence).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage
from skimage.filters import threshold_li, threshold_mean, threshold_otsu, threshold_triangle
from tqdm import tqdm

from xaicut.attribution_store import attribution_path, read_attribution, stored_images
from xaicut.io import write_mask
from xaicut.masks import central_component

log = logging.getLogger(__name__)


LABEL_FREE_RULES = {"otsu": threshold_otsu, "li": threshold_li, "triangle": threshold_triangle,
                    "mean": threshold_mean}
"""Per-image histogram thresholds (scikit-image) that need no pixel label."""


def binarise_map(values: np.ndarray, method: str, threshold: float = 0.5,
                 quantile: float = 0.7) -> np.ndarray:
    """Return a bool mask of ``values`` (2-D, [0, 1]) above the chosen threshold.

    ``method``: ``absolute`` (``values > threshold``), ``quantile`` (above the per-image
    ``quantile``), or one of ``LABEL_FREE_RULES`` (above the per-image Otsu, Li, triangle or
    mean threshold). A constant map gives an empty mask.
    """
    if values.max() <= values.min():
        return np.zeros(values.shape, dtype=bool)
    if method == "absolute":
        cut = threshold
    elif method == "quantile":
        cut = float(np.quantile(values, quantile))
    elif method in LABEL_FREE_RULES:
        cut = float(LABEL_FREE_RULES[method](values))
    else:
        raise ValueError(f"unknown threshold method {method!r}")
    return values > cut


def fuse_masks(masks: dict[str, np.ndarray], mode: str) -> np.ndarray:
    """Fuse per-method bool masks: ``and``/``or`` over all of them (OpenCV bitwise ops), or one
    method's mask by name. Returns a bool (H, W) mask."""
    if mode in masks:
        return masks[mode].copy()
    if mode not in ("and", "or"):
        raise ValueError(f"fuse mode {mode!r} needs a {mode!r} attribution map")
    op = cv2.bitwise_and if mode == "and" else cv2.bitwise_or
    stack = [m.astype(np.uint8) * 255 for m in masks.values()]
    fused = stack[0]
    for mask in stack[1:]:
        fused = op(fused, mask)
    return fused > 0


def central_region(mask: np.ndarray, min_area_fraction: float) -> np.ndarray:
    """The lesion region of a bool (H, W) mask: its most central 8-connected component with at
    least ``min_area_fraction`` of the image's pixels (the most central of any size when none is
    that large; :func:`xaicut.masks.central_component`), holes filled. An empty mask stays
    empty."""
    region, _ = central_component(mask, int(min_area_fraction * mask.size))
    return ndimage.binary_fill_holes(region)


def method_thresholds(cfg: dict, methods: list[str],
                      auto: dict[str, float] | None) -> dict[str, tuple[str, float]]:
    """Per method ``(binarise_map method, absolute threshold)`` for the ``fuse`` section ``cfg``;
    ``threshold_method: auto`` takes each method's threshold from ``auto`` (the validation
    split's best, ``xaicut.threshold_study.auto_thresholds``)."""
    if cfg["threshold_method"] != "auto":
        return {m: (cfg["threshold_method"], cfg["threshold"]) for m in methods}
    missing = [m for m in methods if auto is None or m not in auto]
    if missing:
        raise ValueError(f"threshold 'auto': no validation threshold for {missing}")
    return {m: ("absolute", auto[m]) for m in methods}


def fuse_shard(maps_dir: str | os.PathLike, cfg: dict, out_dirs: dict[str, str | os.PathLike],
               auto: dict[str, float] | None = None) -> None:
    """Write the binary mask of every method and the fused mask for each image in ``maps_dir``.

    ``cfg`` is the ``fuse`` config section; ``out_dirs`` maps each stage (methods and ``fused``)
    to its output folder; masks are 0/255 PNGs named ``{image_id}.png``; ``auto``: per-method
    thresholds for ``threshold_method: auto``. With ``cfg["region"] == "central"`` each method's
    mask and the fused mask are reduced to :func:`central_region`.
    """
    methods = [stage for stage in out_dirs if stage != "fused"]
    cuts = method_thresholds(cfg, methods, auto)
    images = stored_images(maps_dir, methods)

    def region(mask: np.ndarray) -> np.ndarray:
        return (central_region(mask, cfg["min_area_fraction"]) if cfg["region"] == "central"
                else mask)

    for image_id in tqdm(images, desc="fuse", unit="img"):
        masks = {
            m: region(binarise_map(read_attribution(attribution_path(maps_dir, image_id, m)).values,
                                   cuts[m][0], cuts[m][1], cfg["quantile"]))
            for m in methods
        }
        masks["fused"] = region(fuse_masks(masks, cfg["mode"]))
        for stage, mask in masks.items():
            write_mask(mask, Path(out_dirs[stage]) / f"{image_id}.png")
    log.info("fused %d images (%s; thresholds %s; region %s)", len(images), cfg["mode"], cuts,
             cfg["region"])
