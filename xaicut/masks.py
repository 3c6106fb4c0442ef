"""Binary masks, bool (H, W): disc footprints, 8-connected components, centrality, resizing.

Paper 004 (Algorithm 1) keeps the lesion's *connectivity* and *centrality*: a dermoscopy image
shows one lesion, usually near the centre, so of a mask's 8-connected components the most
central large one is the lesion and the others are noise (hair, bubbles, a stray map peak).
Two measures of centrality serve different callers:

* :func:`central_component`: the smallest *mean* inscribed-ellipse radius
  (:func:`normalised_radius`) over a component's pixels (seeds, ``fuse.region: central``);
* :func:`select_component` mode ``nearest_centre``: the component holding the pixel nearest the
  image centre, in pixels (the graph cut's clean-up, ``segment.keep_component``).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

KEEP_COMPONENT_MODES = ("largest", "nearest_centre", "all")
"""Modes of :func:`select_component`."""


def disk(radius: int) -> np.ndarray:
    """Elliptical uint8 structuring element of the given radius (px), (2r + 1, 2r + 1)."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def check_mask(name: str, mask: np.ndarray, shape: tuple[int, int]) -> None:
    """``ValueError`` naming ``name`` unless ``mask`` is a bool numpy array of ``shape`` (H, W)."""
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != shape:
        raise ValueError(
            f"{name} must be a bool numpy array of shape {shape}, "
            f"got {getattr(mask, 'dtype', type(mask))} {getattr(mask, 'shape', '')}"
        )


def resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a bool mask to ``shape`` = (H, W); bool (H, W)."""
    if mask.shape == shape:
        return mask
    size = (shape[1], shape[0])
    return cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0


def _components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components of ``mask``: ``(count including the background, labels int32 (H, W)
    with 0 = background, areas (count - 1,) in px of components 1..count-1)``."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    return count, labels, stats[1:, cv2.CC_STAT_AREA]


def components_touching(mask: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """Every 8-connected component of ``mask`` that contains a pixel of ``anchor`` (both bool
    (H, W)); bool (H, W), all False when they do not meet."""
    _, labels, _ = _components(mask)
    return np.isin(labels, np.unique(labels[anchor & mask]))


def normalised_radius(shape: tuple[int, int]) -> np.ndarray:
    """Per pixel, float (H, W): distance to the centre in units of the inscribed ellipse
    (0 at the centre, 1 on the ellipse touching the four edge midpoints, about 1.41 at corners)."""
    rows, cols = np.indices(shape, dtype=np.float64)
    half_h, half_w = shape[0] / 2.0, shape[1] / 2.0
    return np.hypot((rows + 0.5 - half_h) / half_h, (cols + 0.5 - half_w) / half_w)


def _mean_radius(labels: np.ndarray, count: int) -> np.ndarray:
    """Mean :func:`normalised_radius` of components 1..count-1 of ``labels``, float (count - 1,)."""
    radius = normalised_radius(labels.shape).ravel()
    sums = np.bincount(labels.ravel(), weights=radius, minlength=count)
    sizes = np.bincount(labels.ravel(), minlength=count)
    return sums[1:] / np.maximum(sizes[1:], 1)


def central_component(mask: np.ndarray, min_area: int) -> tuple[np.ndarray, bool]:
    """The lesion component of ``mask`` (bool (H, W)) by paper 004's rule, made total.

    Among the 8-connected components with at least ``min_area`` pixels the most central one:
    the smallest mean distance to the image centre, in inscribed-ellipse units (paper 004 sums
    the distances, which favours small fragments). When no component is that large, the most
    central one of any size. Returns ``(component bool (H, W), large)`` with ``large`` True when
    the component has at least ``min_area`` pixels; ``(all False, False)`` for an empty mask.
    """
    count, labels, areas = _components(mask)
    if count <= 1:
        return np.zeros(mask.shape, dtype=bool), False
    centrality = _mean_radius(labels, count)
    large = areas >= min_area
    if large.any():
        centrality[~large] = np.inf
    return labels == 1 + int(np.argmin(centrality)), bool(large.any())


def _nearest_centre(labels: np.ndarray, count: int, areas: np.ndarray) -> int:
    """Index (0-based, of components 1..count-1) of the component with the pixel nearest the
    image centre, in px; ties go to the larger component."""
    rows, cols = np.indices(labels.shape)
    height, width = labels.shape
    centre_distance = np.hypot(rows - (height - 1) / 2, cols - (width - 1) / 2)
    nearest = ndimage.minimum(centre_distance, labels, index=np.arange(1, count))
    return int(np.lexsort((-areas, nearest))[0])


def select_component(mask: np.ndarray, mode: str, anchor: np.ndarray | None = None) -> np.ndarray:
    """Keep one 8-connected component of ``mask`` (bool (H, W)): the largest (``"largest"``) or
    the one with the pixel nearest the image centre (``"nearest_centre"``).

    ``"all"`` or an empty mask returns ``mask`` unchanged. With a bool (H, W) ``anchor`` (certain
    lesion pixels) that meets ``mask``, every component touching the anchor is kept instead,
    whatever ``mode`` says, so hard constraints survive the clean-up. Returns bool (H, W).
    """
    if mode == "all" or not mask.any():
        return mask
    if anchor is not None and (anchor & mask).any():
        return components_touching(mask, anchor)
    count, labels, areas = _components(mask)
    if mode == "largest":
        return labels == 1 + int(np.argmax(areas))
    return labels == 1 + _nearest_centre(labels, count, areas)
