"""Demo photographs: one dermoscopy photo of a drawn lesion (``xaicut.demo_lesions``) on skin.

Everything outside the lesion (skin tone, skin texture and lines, illumination, dermoscope
vignette, hairs, bubbles, camera blur and noise) is drawn from the same distributions for every
class, so a classifier trained on the labels has to look at the lesion. Pixel sizes are given
for ``REFERENCE_WIDTH`` and scale with the image width.
"""

from __future__ import annotations

import cv2
import numpy as np

from xaicut.demo_lesions import Colour, Lesion
from xaicut.demo_textures import ridges, smooth_noise

REFERENCE_WIDTH = 600
"""Image width (px, HAM10000's) for which the demo's pixel sizes are given; they scale with the
width."""

SKIN_TONES: tuple[Colour, ...] = (
    (238, 204, 200), (228, 168, 164), (232, 196, 172), (222, 168, 146),
    (208, 182, 192), (242, 222, 216), (226, 152, 144),
)
"""Anchor skin colours (RGB) seen under a dermoscope; a patient's tone mixes two of them."""


def _place_lesion(lesion: Lesion, height: int, width: int, centre: tuple[float, float],
                  angle: float, zoom: float) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
    """Rotate (``angle`` degrees), zoom and move the lesion frame to ``centre`` (x, y) in the image.

    Only the lesion's bounding box is warped. Returns (the box as (row slice, column slice) of the
    H × W image, ``layers`` (h, w, 4) and ``alpha`` (h, w) inside the box).
    """
    size = lesion.alpha.shape[0]
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, zoom)
    matrix[:, 2] += np.array(centre) - size / 2
    corners = matrix @ np.array([[0, 0, size, size], [0, size, 0, size], [1, 1, 1, 1]], np.float64)
    x0, y0 = (max(0, int(np.floor(v))) for v in corners.min(1))
    x1, y1 = (min(width, int(np.ceil(corners[0].max())) + 1),
              min(height, int(np.ceil(corners[1].max())) + 1))
    matrix[:, 2] -= (x0, y0)
    box = (max(x1 - x0, 1), max(y1 - y0, 1))
    layers = cv2.warpAffine(lesion.layers, matrix, box, flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(lesion.alpha, matrix, box, flags=cv2.INTER_LINEAR)
    return (slice(y0, y0 + box[1]), slice(x0, x0 + box[0])), layers, alpha


def skin_tone(rng: np.random.Generator) -> np.ndarray:
    """A patient's skin colour: a random mix of two ``SKIN_TONES`` anchors, float32 RGB (3,)."""
    first, second = rng.choice(len(SKIN_TONES), 2, replace=False)
    t = rng.uniform(0, 1)
    return np.float32(SKIN_TONES[first]) * (1 - t) + np.float32(SKIN_TONES[second]) * t


def _skin_background(rng: np.random.Generator, tone: np.ndarray, height: int, width: int,
                    scale: float) -> np.ndarray:
    """Class-independent skin around ``tone``: blotchy redness, mottle, light skin furrows and
    fine grain. Returns float32 RGB (H, W, 3) in 0–255 units.
    """
    shape = (height, width)
    redness = rng.uniform(1.5, 5) * smooth_noise(rng, shape, 50 * scale)
    texture = (rng.uniform(1, 3) * smooth_noise(rng, shape, 8 * scale)
               + rng.uniform(3, 9) * ridges(rng, shape, rng.uniform(20, 40) * scale,
                                            rng.uniform(0.05, 0.1))
               + rng.uniform(3, 6) * smooth_noise(rng, shape, 1.0 * scale))
    return tone + redness[..., None] * np.float32([0.3, -1.0, -0.7]) + texture[..., None]


def _illumination(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Multiplicative light field (H, W, 1): a linear gradient (0–20 %) times a central hot spot
    (0–25 % darker at the corners), computed on a coarse grid and resized."""
    yy, xx = np.mgrid[:17, :17].astype(np.float32) / 16 - 0.5
    yy *= height / width
    angle = rng.uniform(0, 2 * np.pi)
    gradient = 1 + rng.uniform(0, 0.2) * (xx * np.cos(angle) + yy * np.sin(angle))
    spot = 1 - rng.uniform(0, 0.25) * (xx ** 2 + yy ** 2) * 2
    coarse = gradient * spot * rng.uniform(0.92, 1.05)
    light = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)
    return light[..., None]


def _vignette(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Dermoscope field of view (H, W, 1): on ~30 % of images a circle (radius 0.8–1.0 of the
    half-diagonal, slightly off-centre) outside which the image falls to near black."""
    if rng.random() > 0.3:
        return np.ones((height, width, 1), np.float32)
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    cx, cy = width / 2 + rng.normal(0, 0.03 * width), height / 2 + rng.normal(0, 0.03 * height)
    dist = np.hypot(xx - cx, yy - cy) / (np.hypot(width, height) / 2)
    edge = rng.uniform(0.8, 1.0)
    return np.clip(1 - (dist - edge) / rng.uniform(0.03, 0.08), 0.04, 1)[..., None]


def _draw_hairs(rng: np.random.Generator, image: np.ndarray, scale: float) -> None:
    """Draw dark, thin, curved hairs on ~55 % of images (in place, uint8 RGB (H, W, 3)): usually
    1–8, on a fifth of the hairy images up to 40."""
    if rng.random() < 0.45:
        return
    height, width = image.shape[:2]
    count = int(rng.integers(8, 41)) if rng.random() < 0.2 else int(rng.integers(1, 9))
    for _ in range(count):
        start = rng.uniform((0, 0), (width, height))
        headings = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(rng.normal(0, 0.06), 0.05, 16))
        step = rng.uniform(0.1, 0.5) * width / 16
        points = start + np.cumsum(np.stack([np.cos(headings), np.sin(headings)], 1) * step, 0)
        colour = tuple(float(v) for v in np.clip(rng.normal(60, 20) + rng.normal(0, 6, 3), 10, 140))
        thickness = max(1, int(round(rng.uniform(0.6, 2.2) * scale)))
        cv2.polylines(image, [points.astype(np.int32)], False, colour, thickness, cv2.LINE_AA)


def _draw_bubbles(rng: np.random.Generator, image: np.ndarray, scale: float) -> None:
    """Draw immersion-fluid bubbles (bright rims with a highlight) on ~12 % of images and a few
    specular spots on ~30 % (in place, uint8 RGB (H, W, 3))."""
    height, width = image.shape[:2]
    if rng.random() < 0.12:
        for _ in range(int(rng.integers(1, 6))):
            centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            radius = max(2, int(rng.uniform(4, 25) * scale))
            cv2.circle(image, centre, radius, (226, 226, 226), 1, cv2.LINE_AA)
            cv2.circle(image, (centre[0] - radius // 3, centre[1] - radius // 3),
                       max(1, radius // 5), (250, 250, 250), -1, cv2.LINE_AA)
    if rng.random() < 0.3:
        for _ in range(int(rng.integers(1, 6))):
            centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            cv2.circle(image, centre, max(1, int(rng.uniform(1, 3) * scale)), (252, 252, 252), -1,
                       cv2.LINE_AA)


def photograph(rng: np.random.Generator, lesion: Lesion, tone: np.ndarray, height: int, width: int,
               centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Take one dermoscopy photo of ``lesion`` near ``centre`` (x, y): new pose (rotation with
    s.d. 12°, zoom 0.92–1.08, shift with s.d. 3 % of the image, centre kept inside the image), new
    skin texture, light, camera blur, vignette, hairs and bubbles.

    Returns (uint8 RGB (H, W, 3), bool mask (H, W)); the mask is the lesion before any nuisance.
    """
    scale = width / REFERENCE_WIDTH
    moved = (float(np.clip(centre[0] + rng.normal(0, 0.03 * width), 0, width - 1)),
             float(np.clip(centre[1] + rng.normal(0, 0.03 * height), 0, height - 1)))
    box, layers, alpha = _place_lesion(lesion, height, width, moved, rng.normal(0, 12),
                                       rng.uniform(0.92, 1.08))
    image = _skin_background(rng, tone * rng.uniform(0.97, 1.03, 3).astype(np.float32), height,
                             width, scale)
    coverage = layers[..., 3:]
    image[box] = image[box] * (1 - coverage) + layers[..., :3] * coverage
    image = cv2.GaussianBlur(image * _illumination(rng, height, width), (0, 0),
                             rng.uniform(0.5, 1.0) * scale)
    image = np.clip(image, 0, 255).astype(np.uint8)
    _draw_hairs(rng, image, scale)
    _draw_bubbles(rng, image, scale)
    image = np.clip(image * _vignette(rng, height, width), 0, 255).astype(np.uint8)
    mask = np.zeros((height, width), bool)
    mask[box] = alpha >= 0.5
    return image, mask
