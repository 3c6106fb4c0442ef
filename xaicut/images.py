"""Pixel values of uint8 RGB images and float maps: the image check, colour channels, scaling.

One home for what the seeds, the graph cut and the explainers all read off an image: whether it
is a uint8 RGB (H, W, 3) array, its CIE-Lab colours and single darker-is-lesion channels, and the
min-max scaling of a float map to [0, 1].
"""

from __future__ import annotations

import cv2
import numpy as np

CHANNELS = ("l", "blue", "gray")
"""Single channels of :func:`single_channel` in which a lesion is darker than skin."""


def check_rgb_image(image: np.ndarray) -> None:
    """``ValueError`` unless ``image`` is a uint8 numpy array of shape (H, W, 3), H, W >= 1."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        found = getattr(image, "dtype", type(image))
        raise ValueError(f"image must be a uint8 numpy array, got {found}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image must have shape (H, W, 3), got {image.shape}")


def lab(image: np.ndarray) -> np.ndarray:
    """CIE-Lab of a uint8 RGB image (H, W, 3): float32 (H, W, 3), L in [0, 100], a and b roughly
    in [-128, 127]."""
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def single_channel(image: np.ndarray, name: str) -> np.ndarray:
    """One darker-is-lesion channel of a uint8 RGB image (H, W, 3), float32 (H, W).

    ``name``: ``"l"`` (CIE-Lab L, 0..100), ``"blue"`` (B of RGB, 0..255) or ``"gray"`` (mean of
    RGB, 0..255); another name raises ``ValueError``.
    """
    if name == "l":
        return lab(image)[..., 0]
    if name == "blue":
        return image[..., 2].astype(np.float32)
    if name == "gray":
        return image.astype(np.float32).mean(axis=2)
    raise ValueError(f"channel must be one of {CHANNELS}, got {name!r}")


def min_max_scale(values: np.ndarray) -> np.ndarray:
    """``values`` (any shape, finite floats) scaled linearly to [0, 1], same dtype and shape;
    a constant array becomes all zeros."""
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)
