"""Pairwise terms of the graph cut: edge weights between neighbouring pixels.

The paper's "intensity, texture and gradient similarities" (``|p - q|`` is the pixel distance,
1 or sqrt 2; the neighbourhood is 4- or 8-connected):

    w_pq = ( lambda_c * exp(-beta ||z_p - z_q||^2)
           + lambda_g * exp(-g_pq / mean g)
           + lambda_t * exp(-(t_p - t_q)^2 / (2 mean (t_p - t_q)^2)) ) / |p - q|

The colour-contrast term is Boykov-Jolly's / GrabCut's, ``beta = 1 / (2 mean ||z_p - z_q||^2)``;
``g`` is the 3x3 Sobel gradient magnitude of the CIE-Lab lightness L and ``g_pq = (g_p + g_q) / 2``;
``t`` is the standard deviation of L in a ``texture_window`` x ``texture_window`` box. The means run
over all neighbour pairs of the image. Cutting between dissimilar pixels is cheap.
"""

from __future__ import annotations

import cv2
import numpy as np

from xaicut.images import single_channel

Offset = tuple[int, int]
"""A neighbour direction (dy, dx): ``q = p + offset``."""


def _neighbour_offsets(connectivity: int) -> list[Offset]:
    """Forward neighbour offsets (dy, dx); each undirected neighbour pair appears once."""
    offsets = [(0, 1), (1, 0)]
    if connectivity == 8:
        offsets += [(1, 1), (1, -1)]
    return offsets


def _pair_slices(shape: tuple[int, int], offset: Offset) -> tuple[tuple[slice, slice], ...]:
    """``(p, q)``: (row, column) slices of an (H, W) grid selecting every pixel ``p`` whose
    neighbour ``q = p + offset`` (``dy >= 0``) lies inside, and those neighbours, in step."""
    dy, dx = offset
    height, width = shape
    p = (slice(0, height - dy), slice(max(0, -dx), width - max(0, dx)))
    q = (slice(dy, height), slice(max(0, dx), width - max(0, -dx)))
    return p, q


def _offset_squared_differences(features: np.ndarray, offset: Offset) -> np.ndarray:
    """``||z_p - z_q||^2`` for ``q = p + offset``, stored at ``p``; float64 (H, W), NaN where ``q``
    is outside the image."""
    p, q = _pair_slices(features.shape[:2], offset)
    result = np.full(features.shape[:2], np.nan)
    diff = features[p].astype(np.float64) - features[q]
    result[p] = np.einsum("...c,...c->...", diff, diff)
    return result


def _similarity_terms(features: np.ndarray, offsets: list[Offset]) -> list[np.ndarray]:
    """``exp(-||f_p - f_q||^2 / (2 * mean ||f_p - f_q||^2))`` per offset, float64 (H, W) in (0, 1].

    ``features``: float (H, W, C). The mean runs over all neighbour pairs of the image (so
    ``1 / (2 * mean)`` is GrabCut's ``beta``); NaN where ``q = p + offset`` is outside the image.
    Constant features (mean 0) give 1 everywhere.
    """
    squared = [_offset_squared_differences(features, o) for o in offsets]
    mean = float(np.nanmean(np.concatenate([s.ravel() for s in squared])))
    if mean <= 0:
        return [np.where(np.isnan(s), np.nan, 1.0) for s in squared]
    return [np.exp(-s / (2.0 * mean)) for s in squared]


def contrast_weights(
    features: np.ndarray, connectivity: int, weight: float
) -> list[tuple[Offset, np.ndarray]]:
    """Contrast-sensitive Potts weights per neighbour direction (colour term only).

    ``features``: float (H, W, C) colour features; ``connectivity``: 4 or 8; ``weight``:
    ``lambda_c`` in nats. Returns ``[(offset, weights)]`` with ``weights`` float64 (H, W) holding
    ``lambda_c * exp(-beta * ||z_p - z_q||^2) / |offset|`` for the edge from ``p`` to
    ``q = p + offset`` (0 where ``q`` is outside the image), and
    ``beta = 1 / (2 * mean ||z_p - z_q||^2)`` over all neighbour pairs.
    """
    offsets = _neighbour_offsets(connectivity)
    terms = _similarity_terms(features, offsets)
    return [
        (o, np.nan_to_num(weight * t / np.hypot(*o), nan=0.0))
        for o, t in zip(offsets, terms)
    ]


def _gradient_magnitude(lightness: np.ndarray) -> np.ndarray:
    """3x3 Sobel gradient magnitude of ``lightness`` (float32 (H, W)), in L units per px."""
    gx = cv2.Sobel(lightness, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT)
    gy = cv2.Sobel(lightness, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT)
    return np.hypot(gx, gy) / 8.0  # the Sobel kernel sums |weights| to 8 per direction


def _local_std(lightness: np.ndarray, window: int) -> np.ndarray:
    """Standard deviation of ``lightness`` (float32 (H, W)) in a ``window`` x ``window`` box."""
    values = lightness.astype(np.float64)
    mean = cv2.blur(values, (window, window), borderType=cv2.BORDER_REFLECT)
    mean_sq = cv2.blur(values * values, (window, window), borderType=cv2.BORDER_REFLECT)
    return np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))


def _shifted_mean(values: np.ndarray, offset: Offset) -> np.ndarray:
    """``(v_p + v_q) / 2`` for ``q = p + offset``, stored at ``p``; float64 (H, W), NaN where
    ``q`` is outside the image."""
    p, q = _pair_slices(values.shape, offset)
    result = np.full(values.shape, np.nan)
    result[p] = 0.5 * (values[p] + values[q])
    return result


def _gradient_terms(lightness: np.ndarray, offsets: list[Offset]) -> list[np.ndarray]:
    """``exp(-g_pq / mean(g))`` per offset with ``g_pq`` the mean Sobel magnitude of p and q.

    Float64 (H, W) in (0, 1]; NaN where ``q`` is outside the image; 1 for a flat image.
    """
    magnitude = _gradient_magnitude(lightness).astype(np.float64)
    scale = float(magnitude.mean())
    pair_means = [_shifted_mean(magnitude, offset) for offset in offsets]
    if scale <= 0:
        return [np.where(np.isnan(m), np.nan, 1.0) for m in pair_means]
    return [np.exp(-m / scale) for m in pair_means]


def pairwise_weights(
    image: np.ndarray,
    features: np.ndarray,
    *,
    connectivity: int,
    colour_weight: float,
    gradient_weight: float,
    texture_weight: float,
    texture_window: int,
) -> list[tuple[Offset, np.ndarray]]:
    """Edge weights ``w_pq`` per neighbour direction: colour + gradient + texture terms.

    ``image``: uint8 RGB (H, W, 3) at working size; ``features``: its colour features;
    ``connectivity``: 4 or 8; ``colour_weight``, ``gradient_weight``, ``texture_weight``:
    ``lambda_c``, ``lambda_g``, ``lambda_t`` in nats (0 = term off); ``texture_window``: odd
    side (px) of the box of ``t`` (module docstring). Returns ``[(offset, weights float64
    (H, W))]``, 0 where ``q`` is outside the image.
    """
    weights = contrast_weights(features, connectivity, colour_weight)
    if gradient_weight == 0 and texture_weight == 0:
        return weights
    offsets = [o for o, _ in weights]
    lightness = single_channel(image, "l")
    extra = [np.zeros(features.shape[:2]) for _ in offsets]
    if gradient_weight > 0:
        for total, term in zip(extra, _gradient_terms(lightness, offsets)):
            total += gradient_weight * np.nan_to_num(term, nan=0.0)
    if texture_weight > 0:
        texture = _local_std(lightness, texture_window)[..., None]
        for total, term in zip(extra, _similarity_terms(texture, offsets)):
            total += texture_weight * np.nan_to_num(term, nan=0.0)
    return [(o, w + e / np.hypot(*o)) for (o, w), e in zip(weights, extra)]
