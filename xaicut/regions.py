"""Connected-component geometry of binary masks, shared by ``fuse`` and ``seeds``.

Paper 004 (Algorithm 1) keeps the lesion's *connectivity* and *centrality*: a dermoscopy image
shows one lesion, usually near the centre, so of a mask's 8-connected components the most
central large one is the lesion and the others are noise (hair, bubbles, a stray map peak).
"""

from __future__ import annotations

import cv2
import numpy as np


def normalised_radius(shape: tuple[int, int]) -> np.ndarray:
    """Per pixel, float (H, W): distance to the centre in units of the inscribed ellipse
    (0 at the centre, 1 on the ellipse touching the four edge midpoints, about 1.41 at corners)."""
    rows, cols = np.indices(shape, dtype=np.float64)
    half_h, half_w = shape[0] / 2.0, shape[1] / 2.0
    return np.hypot((rows + 0.5 - half_h) / half_h, (cols + 0.5 - half_w) / half_w)


def component_centrality(labels: np.ndarray, count: int) -> np.ndarray:
    """Mean inscribed-ellipse radius (:func:`normalised_radius`) of components 1..count-1."""
    radius = normalised_radius(labels.shape).ravel()
    sums = np.bincount(labels.ravel(), weights=radius, minlength=count)
    sizes = np.bincount(labels.ravel(), minlength=count)
    return sums[1:] / np.maximum(sizes[1:], 1)


def central_component(mask: np.ndarray, min_area: int) -> np.ndarray:
    """The most central 8-connected component of ``mask`` (bool (H, W)) among those with at
    least ``min_area`` pixels: the smallest mean distance to the image centre, in
    inscribed-ellipse units (paper 004 sums the distances, which favours small fragments).
    Returns bool (H, W); all False when no component is that large."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    if count <= 1:
        return np.zeros(mask.shape, dtype=bool)
    centrality = component_centrality(labels, count)
    centrality[stats[1:, cv2.CC_STAT_AREA] < min_area] = np.inf
    if not np.isfinite(centrality).any():
        return np.zeros(mask.shape, dtype=bool)
    return labels == 1 + int(np.argmin(centrality))
