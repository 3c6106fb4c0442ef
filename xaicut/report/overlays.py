"""Pictures of the report (OpenCV, RGB uint8 arrays): thumbnails, map and mask overlays, pixel
errors."""

from __future__ import annotations

import cv2
import matplotlib
import numpy as np

THUMBNAIL_WIDTH = 200
"""Width of every picture in the report, pixels."""
PREDICTION_COLOUR = (255, 255, 0)
TRUTH_COLOUR = (0, 255, 255)
ERROR_COLOURS = {"TP (lesion found)": (0, 200, 0), "FP (over-segmented)": (255, 0, 0),
                 "FN (missed lesion)": (0, 90, 255)}
"""Pixel classes of a prediction against the truth and their RGB tint (green, red, blue)."""
ERROR_ALPHA = 0.5


def thumbnail(array: np.ndarray, width: int = THUMBNAIL_WIDTH) -> np.ndarray:
    """Resize an image or map to ``width`` pixels wide, keeping the aspect ratio."""
    height = max(1, round(array.shape[0] * width / array.shape[1]))
    return cv2.resize(array, (width, height), interpolation=cv2.INTER_AREA)


def thumbnail_mask(mask: np.ndarray) -> np.ndarray:
    """Resize a boolean mask to thumbnail size."""
    return thumbnail(mask.astype(np.uint8) * 255) > 127


def jet_overlay(image: np.ndarray, values: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend a [0, 1] map, coloured with the jet colormap, over an RGB image."""
    heat = matplotlib.colormaps["jet"](np.clip(values, 0, 1))[..., :3] * 255
    return (alpha * heat + (1 - alpha) * image).astype(np.uint8)


def outline(image: np.ndarray, mask: np.ndarray | None, colour: tuple[int, int, int],
            thickness: int = 2) -> np.ndarray:
    """A copy of ``image`` with the outer contours of ``mask`` (None: none) drawn in ``colour``."""
    drawn = image.copy()
    if mask is not None:
        contours, _ = cv2.findContours(
            mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
        )
        cv2.drawContours(drawn, contours, -1, colour, thickness)
    return drawn


def error_overlay(image: np.ndarray, prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``image`` with the TP, FP and FN pixels of ``prediction`` against ``truth`` (boolean masks
    of the image's size) tinted in the ``ERROR_COLOURS``; TN pixels unchanged."""
    drawn = image.astype(np.float32)
    pixel_classes = (prediction & truth, prediction & ~truth, ~prediction & truth)
    for pixels, colour in zip(pixel_classes, ERROR_COLOURS.values()):
        drawn[pixels] = (1 - ERROR_ALPHA) * drawn[pixels] + ERROR_ALPHA * np.array(colour)
    return drawn.astype(np.uint8)
