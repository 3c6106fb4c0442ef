"""Random texture fields and colour mixing shared by the demo's lesion painters and its skin.

Every field is drawn from the ``numpy.random.Generator`` passed in, so the caller fixes the order
of the draws. Pixel sizes are those of the image being drawn.
"""

from __future__ import annotations

import cv2
import numpy as np


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise of ``shape`` with correlation length ``sigma`` pixels.

    Returns float32 with zero mean and unit standard deviation. Large ``sigma`` is computed on a
    coarser grid and resized, which keeps it cheap.
    """
    factor = max(1.0, sigma / 3)
    small = (max(2, int(np.ceil(shape[0] / factor))), max(2, int(np.ceil(shape[1] / factor))))
    noise = cv2.GaussianBlur(rng.standard_normal(small, dtype=np.float32), (0, 0), sigma / factor)
    if small != shape:
        noise = cv2.resize(noise, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return (noise - noise.mean()) / (noise.std() + 1e-6)


def ridges(rng: np.random.Generator, shape: tuple[int, int], period: float,
           width: float) -> np.ndarray:
    """Meandering lines (the zero set of smooth noise) in [0, 1], about ``period`` px apart;
    ``width`` is the line width relative to the noise amplitude (0.1 thin – 0.5 thick)."""
    return np.exp(-((smooth_noise(rng, shape, period / 3) / width) ** 2))


def mesh(rng: np.random.Generator, shape: tuple[int, int], period: float,
         width: float) -> np.ndarray:
    """A pigment-network-like mesh in [0, 1]: two crossing ``ridges`` fields,
    holes ~``period`` px."""
    return np.maximum(ridges(rng, shape, period, width), ridges(rng, shape, period, width))


def ramp(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Linear step from 0 at ``low`` to 1 at ``high`` (clipped), float32."""
    return np.clip((values - low) / (high - low), 0, 1).astype(np.float32)


def blend(rgb: np.ndarray, colour: np.ndarray, weight: np.ndarray | float) -> np.ndarray:
    """Mix ``colour`` (3,) into ``rgb`` (P, P, 3) with per-pixel ``weight`` in [0, 1]."""
    weight = np.asarray(weight, np.float32)
    if weight.ndim == 2:
        weight = weight[..., None]
    return rgb * (1 - weight) + colour * weight
