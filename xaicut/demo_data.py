"""Embedded demo data: a seeded synthetic dataset in the exact HAM10000 release layout.

``write_demo_dataset`` writes ``HAM10000_metadata.csv``, ``HAM10000_images_part_1/*.jpg`` (RGB) and
``HAM10000_segmentations_lesion_tschandl/*_segmentation.png`` (0/255) so the pipeline reads it
exactly like a real download.

The diagnosis is visible ONLY inside the lesion: each class has its own colour palette, internal
structures (pigment network, globules, blotches, vessels, scale, lagoons, central scar), border
irregularity and edge sharpness. Everything outside the lesion (skin tone, skin texture and lines,
illumination, dermoscope vignette, hairs, bubbles, camera blur and noise) is drawn from the same
distributions for every class, so a classifier trained on the labels has to look at the lesion.
The ground-truth mask is the lesion shape before any nuisance is drawn (hairs do not change it).
About ``repeat_fraction`` of the lesions are photographed 2–3 times under one ``lesion_id`` with a
new pose and new nuisances. All randomness comes from one ``numpy.random.default_rng(seed)``.

Pixel sizes below are given for the 600×450 HAM10000 resolution and scale with the image.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from xaicut import CLASSES
from xaicut.io import write_csv, write_image, write_mask

log = logging.getLogger(__name__)

CLASS_FREQUENCIES: dict[str, float] = {
    "akiec": 0.033, "bcc": 0.051, "bkl": 0.110, "df": 0.011, "mel": 0.111, "nv": 0.670, "vasc": 0.014,
}
"""HAM10000's class shares (10,015 images)."""

MIN_LESIONS_PER_CLASS = 3
"""Lesions guaranteed per class when ``n_lesions >= MIN_LESIONS_FOR_GUARANTEE``."""
MIN_LESIONS_FOR_GUARANTEE = 50

METADATA_COLUMNS = ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"]
IMAGE_DIR = "HAM10000_images_part_1"
MASK_DIR = "HAM10000_segmentations_lesion_tschandl"
FIRST_IMAGE_NUMBER = 24306
"""HAM10000's first image id is ISIC_0024306."""
REFERENCE_WIDTH = 600
BORDER_SAMPLES = 2048
"""Angular resolution of the lesion border function."""
"""Pixel sizes in this module are for 600-pixel-wide images and scale with the width."""

LOCALIZATIONS: dict[str, float] = {
    "back": 0.22, "lower extremity": 0.20, "trunk": 0.14, "upper extremity": 0.11,
    "abdomen": 0.10, "face": 0.07, "chest": 0.04, "foot": 0.03, "unknown": 0.02, "neck": 0.02,
    "scalp": 0.01, "hand": 0.01, "ear": 0.01, "genital": 0.01, "acral": 0.01,
}
"""HAM10000 localization values and their approximate shares."""

DX_TYPES: dict[str, dict[str, float]] = {
    "akiec": {"histo": 1.0},
    "bcc": {"histo": 1.0},
    "bkl": {"histo": 0.7, "consensus": 0.25, "confocal": 0.05},
    "df": {"histo": 0.7, "consensus": 0.3},
    "mel": {"histo": 1.0},
    "nv": {"follow_up": 0.55, "histo": 0.35, "consensus": 0.10},
    "vasc": {"histo": 0.3, "consensus": 0.7},
}
"""How each diagnosis was confirmed, per class, roughly as in HAM10000."""

MEAN_AGE: dict[str, float] = {"akiec": 67, "bcc": 66, "bkl": 64, "df": 53, "mel": 61, "nv": 47, "vasc": 52}
"""Mean patient age (years) per class, roughly as in HAM10000."""

Colour = tuple[int, int, int]

SKIN_TONES: tuple[Colour, ...] = (
    (238, 204, 200), (228, 168, 164), (232, 196, 172), (222, 168, 146),
    (208, 182, 192), (242, 222, 216), (226, 152, 144),
)
"""Anchor skin colours (RGB) seen under a dermoscope; a patient's tone mixes two of them."""

LESION_AREA = (0.05, 0.6)
"""Range of the lesion's share of the image area (log-uniform, the same for every class)."""


@dataclass(frozen=True)
class LesionStyle:
    """Class-specific look of a lesion (all ranges are (low, high) for a uniform draw).

    ``colours`` are named RGB anchors; ``irregularity`` and ``roughness`` are the amplitudes of the
    low (2–7) and high (8–20) border harmonics relative to the radius; ``edge_px`` the width of the
    soft boundary; ``opacity`` how much the lesion hides the skin; ``fade`` how much of that
    opacity is lost towards the border. Lesion size is not a class property (``LESION_AREA``).
    """

    colours: dict[str, Colour]
    irregularity: tuple[float, float]
    roughness: tuple[float, float]
    edge_px: tuple[float, float]
    opacity: tuple[float, float]
    fade: tuple[float, float]


STYLES: dict[str, LesionStyle] = {
    "nv": LesionStyle(
        {"light": (186, 116, 78), "dark": (112, 60, 38), "network": (86, 44, 30), "globule": (92, 50, 34)},
        (0.03, 0.07), (0.0, 0.008), (4.0, 12.0), (0.85, 0.97), (0.1, 0.4)),
    "mel": LesionStyle(
        {"light": (168, 112, 84), "dark": (88, 52, 42), "black": (42, 32, 36), "blue": (104, 110, 138),
         "red": (182, 96, 100), "white": (214, 200, 206)},
        (0.12, 0.25), (0.01, 0.025), (2.0, 6.0), (0.92, 1.0), (0.0, 0.2)),
    "bkl": LesionStyle(
        {"light": (204, 158, 118), "dark": (162, 112, 80), "fissure": (128, 88, 64),
         "milia": (238, 228, 208), "comedo": (86, 66, 58)},
        (0.06, 0.14), (0.01, 0.02), (2.0, 5.0), (0.78, 0.92), (0.0, 0.15)),
    "bcc": LesionStyle(
        {"light": (226, 176, 192), "dark": (198, 116, 138), "vessel": (184, 30, 48),
         "nest": (112, 114, 142), "ulcer": (112, 42, 40)},
        (0.06, 0.14), (0.005, 0.015), (4.0, 10.0), (0.8, 0.92), (0.1, 0.3)),
    "akiec": LesionStyle(
        {"light": (222, 136, 128), "dark": (196, 92, 92), "scale": (238, 226, 204),
         "vessel": (176, 44, 56), "brown": (170, 112, 90)},
        (0.08, 0.16), (0.005, 0.015), (6.0, 14.0), (0.75, 0.9), (0.2, 0.4)),
    "vasc": LesionStyle(
        {"light": (204, 48, 82), "dark": (126, 34, 88), "deep": (70, 36, 78), "septum": (224, 168, 184)},
        (0.03, 0.08), (0.0, 0.008), (2.0, 4.0), (0.95, 1.0), (0.0, 0.1)),
    "df": LesionStyle(
        {"light": (198, 134, 114), "dark": (154, 98, 72), "network": (128, 80, 58), "scar": (236, 222, 218)},
        (0.02, 0.07), (0.0, 0.008), (6.0, 12.0), (0.85, 0.95), (0.15, 0.35)),
}
"""Class-specific lesion appearance (with ``PAINTERS``); nothing outside the lesion uses it."""


@dataclass(frozen=True)
class LesionFrame:
    """A square frame centred on the lesion (all arrays (P, P) float32).

    ``rr`` is the normalised radius (< 1 inside the lesion), ``xx``/``yy`` pixel offsets from the
    centre, ``radius`` the mean lesion radius in pixels, ``scale`` the image width / 600.
    """

    rr: np.ndarray
    xx: np.ndarray
    yy: np.ndarray
    radius: float
    scale: float


@dataclass(frozen=True)
class Lesion:
    """A drawn lesion in its own frame: ``layers`` (P, P, 4) = RGB and skin coverage in [0, 1],
    ``alpha`` (P, P) the shape opacity (0.5 on the border), all float32."""

    layers: np.ndarray
    alpha: np.ndarray


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


def ridges(rng: np.random.Generator, shape: tuple[int, int], period: float, width: float) -> np.ndarray:
    """Meandering lines (the zero set of smooth noise) in [0, 1], about ``period`` px apart;
    ``width`` is the line width relative to the noise amplitude (0.1 thin – 0.5 thick)."""
    return np.exp(-((smooth_noise(rng, shape, period / 3) / width) ** 2))


def mesh(rng: np.random.Generator, shape: tuple[int, int], period: float, width: float) -> np.ndarray:
    """A pigment-network-like mesh in [0, 1]: two crossing ``ridges`` fields, holes ~``period`` px."""
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


def class_palette(rng: np.random.Generator, dx: str) -> dict[str, np.ndarray]:
    """The named colours of one lesion of class ``dx``: the class anchors with per-lesion jitter.

    Returns float32 RGB (3,) arrays; a common brightness factor keeps within-class variation.
    """
    brightness = rng.uniform(0.88, 1.08)
    return {name: np.clip(np.float32(rgb) * brightness + rng.normal(0, 7, 3), 0, 255).astype(np.float32)
            for name, rgb in STYLES[dx].colours.items()}


def dot_map(rng: np.random.Generator, frame: LesionFrame, count: int, radius_px: tuple[float, float],
            band: tuple[float, float] = (0.0, 0.9)) -> np.ndarray:
    """Weights (P, P) in [0, 1] of ``count`` round dots whose centres lie at ``band`` normalised radii.

    ``radius_px`` is the (low, high) dot radius in pixels at 600-pixel width.
    """
    canvas = np.zeros(frame.rr.shape, np.uint8)
    size = frame.rr.shape[0]
    points = rng.integers(0, size, (8 * count + 8, 2))
    rr = frame.rr[points[:, 1], points[:, 0]]
    for x, y in points[(rr >= band[0]) & (rr < band[1])][:count]:
        radius = max(1, int(round(rng.uniform(*radius_px) * frame.scale)))
        cv2.circle(canvas, (int(x), int(y)), radius, 255, -1, cv2.LINE_AA)
    return canvas.astype(np.float32) / 255


def branching_lines(rng: np.random.Generator, frame: LesionFrame, trunks: int, thickness: float) -> np.ndarray:
    """Weights (P, P) of branching, tapering, meandering lines (arborising vessels) inside the lesion."""
    canvas = np.zeros(frame.rr.shape, np.uint8)
    half, step = frame.rr.shape[0] / 2, max(frame.radius / 7, 2.0)
    stack = [(half + rng.normal(0, frame.radius / 3, 2), rng.uniform(0, 2 * np.pi), thickness, 0)
             for _ in range(trunks)]
    while stack:
        start, heading, width, depth = stack.pop()
        headings = heading + np.cumsum(rng.normal(0, 0.45, 6))
        points = start + np.cumsum(np.stack([np.cos(headings), np.sin(headings)], 1) * step, 0)
        points = np.vstack([start, points]).astype(np.int32)
        cv2.polylines(canvas, [points], False, 255, max(1, int(round(width * frame.scale))), cv2.LINE_AA)
        if depth < 2:
            for index in rng.choice(np.arange(1, 6), size=2, replace=False):
                turn = rng.choice([-1, 1]) * rng.uniform(0.4, 1.0)
                branch_start = points[index].astype(np.float64)
                stack.append((branch_start, headings[index - 1] + turn, width * 0.6, depth + 1))
    return canvas.astype(np.float32) / 255 * ramp(1.0 - frame.rr, 0.0, 0.15)


def paint_nv(rng: np.random.Generator, frame: LesionFrame, c: dict[str, np.ndarray]) -> np.ndarray:
    """Naevus: symmetric medium/dark brown, regular fine network or globules fading to the edge."""
    shape = frame.rr.shape
    tone = rng.uniform(0, 1)
    base = c["light"] * (1 - tone) + c["dark"] * tone
    centre = rng.uniform(-0.25, 0.35)          # > 0: darker centre, < 0: lighter centre
    rgb = np.broadcast_to(base, (*shape, 3)) * (1 - centre * ramp(1 - frame.rr, 0, 0.8)[..., None])
    rgb = rgb * (1 + 0.08 * smooth_noise(rng, shape, frame.radius / 4))[..., None]
    periphery = ramp(1.05 - frame.rr, 0.0, 0.45)
    if rng.random() < 0.65:
        net = mesh(rng, shape, rng.uniform(12, 18) * frame.scale, rng.uniform(0.15, 0.25))
        return blend(rgb, c["network"], 0.55 * net * periphery)
    count = int(frame.radius ** 2 / (60 * frame.scale ** 2)) + 10
    return blend(rgb, c["globule"], 0.8 * dot_map(rng, frame, count, (2.0, 3.5)) * periphery)


def paint_mel(rng: np.random.Generator, frame: LesionFrame, c: dict[str, np.ndarray]) -> np.ndarray:
    """Melanoma: asymmetric multicolour zones (brown, black, blue-grey veil, regression, red),
    atypical thick network and irregular peripheral dots/globules."""
    shape = frame.rr.shape
    angle = rng.uniform(0, 2 * np.pi)
    slope = ((frame.xx * np.cos(angle) + frame.yy * np.sin(angle)) / frame.radius).astype(np.float32)
    zones = smooth_noise(rng, shape, frame.radius / 5) + rng.uniform(0.5, 1.3) * slope
    rgb = blend(np.broadcast_to(c["light"], (*shape, 3)), c["dark"], ramp(zones, -1.0, 0.0))
    rgb = blend(rgb, c["black"], 0.9 * ramp(zones, 0.7, 1.3))
    veil = ramp(smooth_noise(rng, shape, frame.radius / 4), rng.uniform(0.5, 1.1), 1.5)
    rgb = blend(rgb, c["blue"], 0.75 * veil)
    rgb = blend(rgb, c["white"], 0.6 * ramp(smooth_noise(rng, shape, frame.radius / 5), 1.2, 1.8))
    if rng.random() < 0.4:
        rgb = blend(rgb, c["red"], 0.5 * ramp(smooth_noise(rng, shape, frame.radius / 6), 0.8, 1.5))
    net = mesh(rng, shape, rng.uniform(14, 24) * frame.scale, rng.uniform(0.2, 0.4))
    rgb = blend(rgb, c["black"], 0.45 * net * ramp(smooth_noise(rng, shape, frame.radius / 4), -0.3, 0.5))
    count = int(frame.radius / frame.scale / 6) + 4
    dots = dot_map(rng, frame, count, (1.5, 6.0), band=(0.55, 0.95))
    dots = cv2.GaussianBlur(dots, (0, 0), 1.5 * frame.scale)
    rgb = blend(rgb, c["dark"] * 0.7, 0.8 * dots)
    return rgb * (1 + 0.06 * smooth_noise(rng, shape, 3 * frame.scale))[..., None]


def paint_bkl(rng: np.random.Generator, frame: LesionFrame, c: dict[str, np.ndarray]) -> np.ndarray:
    """Benign keratosis: light tan/waxy; cerebriform fissures with milia and comedo-like openings
    (seborrhoeic keratosis) or a flat, faintly reticulated tan patch (solar lentigo)."""
    shape = frame.rr.shape
    tone = rng.uniform(0, 1)
    rgb = np.broadcast_to(c["light"] * (1 - tone) + c["dark"] * tone, (*shape, 3))
    rgb = rgb * (1 + 0.06 * smooth_noise(rng, shape, frame.radius / 5))[..., None]
    if rng.random() < 0.35:
        net = ridges(rng, shape, rng.uniform(10, 16) * frame.scale, 0.3)
        return blend(rgb, c["dark"], 0.5 * net)
    fissure = ridges(rng, shape, rng.uniform(14, 24) * frame.scale, rng.uniform(0.3, 0.5))
    rgb = blend(rgb, c["fissure"], 0.6 * fissure)
    count = int(frame.radius / frame.scale / 8) + 3
    rgb = blend(rgb, c["milia"], 0.85 * dot_map(rng, frame, count, (1.5, 3.5)))
    return blend(rgb, c["comedo"], 0.8 * dot_map(rng, frame, count // 2 + 1, (2.0, 4.0)))


def paint_bcc(rng: np.random.Generator, frame: LesionFrame, c: dict[str, np.ndarray]) -> np.ndarray:
    """Basal cell carcinoma: pearly pink with paler translucent areas, arborising red vessels,
    blue-grey ovoid nests and sometimes a dark red ulcer."""
    shape = frame.rr.shape
    rgb = blend(np.broadcast_to(c["dark"], (*shape, 3)), c["light"],
                ramp(smooth_noise(rng, shape, frame.radius / 4), -0.5, 1.0))
    if rng.random() < 0.6:
        nests = smooth_noise(rng, shape, frame.radius / 10) + 1.5 * ramp(frame.rr, 0.5, 1.0)
        rgb = blend(rgb, c["nest"], 0.75 * ramp(-nests, 1.2, 1.8))
    if rng.random() < 0.3:
        ulcer = ramp(smooth_noise(rng, shape, frame.radius / 5) - frame.rr, 1.0, 1.4)
        rgb = blend(rgb, c["ulcer"], 0.8 * ulcer)
    vessels = branching_lines(rng, frame, int(rng.integers(2, 5)), rng.uniform(2.0, 4.0))
    return blend(rgb, c["vessel"], 0.9 * vessels)


def paint_akiec(rng: np.random.Generator, frame: LesionFrame, c: dict[str, np.ndarray]) -> np.ndarray:
    """Actinic keratosis / Bowen's: red-pink 'strawberry' background, white-yellow surface scale,
    clusters of dotted/glomerular vessels, sometimes light-brown pigment."""
    shape = frame.rr.shape
    rgb = blend(np.broadcast_to(c["light"], (*shape, 3)), c["dark"],
                ramp(smooth_noise(rng, shape, frame.radius / 4), -0.6, 1.2))
    if rng.random() < 0.3:
        rgb = blend(rgb, c["brown"], 0.6 * ramp(smooth_noise(rng, shape, frame.radius / 5), 0.3, 1.2))
    count = int(frame.radius ** 2 / (120 * frame.scale ** 2)) + 10
    clusters = ramp(smooth_noise(rng, shape, frame.radius / 6), 0.0, 0.6)
    rgb = blend(rgb, c["vessel"], 0.85 * dot_map(rng, frame, count, (1.0, 2.5)) * clusters)
    keratin = ramp(smooth_noise(rng, shape, rng.uniform(6, 14) * frame.scale), rng.uniform(0.3, 0.9), 1.6)
    grain = 0.8 + 0.2 * smooth_noise(rng, shape, 1.0 * frame.scale)
    return blend(rgb, c["scale"], np.clip(0.85 * keratin * grain, 0, 1))


def paint_vasc(rng: np.random.Generator, frame: LesionFrame, c: dict[str, np.ndarray]) -> np.ndarray:
    """Vascular lesion: red/purple/dark-blue lagoons separated by whitish septa."""
    shape = frame.rr.shape
    lagoons = smooth_noise(rng, shape, frame.radius / 7)
    rgb = blend(np.broadcast_to(c["light"], (*shape, 3)), c["dark"], ramp(lagoons, -0.4, 0.6))
    rgb = blend(rgb, c["deep"], 0.8 * ramp(smooth_noise(rng, shape, frame.radius / 5), 0.6, 1.4))
    septa = mesh(rng, shape, frame.radius * rng.uniform(0.5, 0.9), rng.uniform(0.08, 0.14))
    return blend(rgb, c["septum"], 0.6 * septa * ramp(1 - frame.rr, 0.05, 0.3))


def paint_df(rng: np.random.Generator, frame: LesionFrame, c: dict[str, np.ndarray]) -> np.ndarray:
    """Dermatofibroma: pinkish-light brown with a delicate peripheral network and a central
    white scar-like patch."""
    shape = frame.rr.shape
    darker_rim = ramp(frame.rr, 0.3, 0.9) * rng.uniform(0.4, 0.9)
    rgb = blend(np.broadcast_to(c["light"], (*shape, 3)), c["dark"], darker_rim)
    net = ridges(rng, shape, rng.uniform(10, 14) * frame.scale, 0.3)
    rgb = blend(rgb, c["network"], 0.5 * net * ramp(frame.rr, 0.35, 0.6))
    size = rng.uniform(0.25, 0.45)
    patch = frame.rr + 0.12 * smooth_noise(rng, shape, frame.radius / 8)
    return blend(rgb, c["scar"], 0.85 * ramp(size - patch, 0.0, 0.12))


PAINTERS: dict[str, Callable[[np.random.Generator, LesionFrame, dict[str, np.ndarray]], np.ndarray]] = {
    "akiec": paint_akiec, "bcc": paint_bcc, "bkl": paint_bkl, "df": paint_df,
    "mel": paint_mel, "nv": paint_nv, "vasc": paint_vasc,
}


def lesion_shape(rng: np.random.Generator, radius: float, irregularity: float, roughness: float,
                 scale: float) -> LesionFrame:
    """A smooth random blob: an ellipse (aspect 1–1.6, area-preserving) whose radius is modulated by
    a Fourier series (harmonics 2–7 with amplitude ``irregularity`` · 2/k, 8–20 with
    ``roughness`` · (8/k)^1.5).

    ``radius`` is the mean radius in pixels; returns the lesion's frame, just large enough to hold it.
    """
    ks = np.arange(2, 21)
    envelope = np.where(ks < 8, irregularity * 2 / ks, roughness * (8 / ks) ** 1.5)
    amplitudes = envelope * rng.standard_normal(ks.size)
    phases = rng.uniform(0, 2 * np.pi, ks.size)
    aspect, tilt = np.sqrt(rng.uniform(1.0, 1.6)), rng.uniform(0, np.pi)
    angles = np.linspace(-np.pi, np.pi, BORDER_SAMPLES + 1)
    waves = np.cos(np.multiply.outer(angles, ks) + phases) @ amplitudes
    border = np.clip(1 + waves, 0.5, 1.8).astype(np.float32)
    half = int(np.ceil(radius * aspect * border.max() + 10 * scale)) + 2
    yy, xx = (np.mgrid[: 2 * half, : 2 * half].astype(np.float32) - half + 0.5)
    u = (xx * np.cos(tilt) + yy * np.sin(tilt)) / aspect
    v = (yy * np.cos(tilt) - xx * np.sin(tilt)) * aspect
    index = np.rint((np.arctan2(v, u) + np.pi) * (BORDER_SAMPLES / (2 * np.pi))).astype(np.intp)
    rr = np.hypot(u, v) / (radius * border[index])
    return LesionFrame(rr.astype(np.float32), xx, yy, radius, scale)


def draw_lesion(rng: np.random.Generator, dx: str, radius: float, scale: float) -> Lesion:
    """Draw one lesion of class ``dx`` with mean radius ``radius`` px in its own frame.

    The shape opacity ``alpha`` is 0.5 exactly on the border (the ground-truth mask boundary) and
    ramps over ``edge_px``; ``coverage`` = alpha × class opacity (fading towards the border) says
    how much skin is hidden. A fine class-independent mottle is added to every lesion.
    """
    style = STYLES[dx]
    frame = lesion_shape(rng, radius, rng.uniform(*style.irregularity), rng.uniform(*style.roughness), scale)
    rgb = PAINTERS[dx](rng, frame, class_palette(rng, dx))
    rgb = rgb * (1 + 0.05 * smooth_noise(rng, frame.rr.shape, 2 * scale))[..., None]
    edge = rng.uniform(*style.edge_px) * scale
    alpha = np.clip((1 - frame.rr) * radius / max(edge, 0.5) + 0.5, 0, 1).astype(np.float32)
    opacity = rng.uniform(*style.opacity) * (1 - rng.uniform(*style.fade) * ramp(frame.rr, 0.5, 1.0))
    return Lesion(np.dstack([np.clip(rgb, 0, 255), alpha * opacity]).astype(np.float32), alpha)


def place_lesion(lesion: Lesion, height: int, width: int, centre: tuple[float, float], angle: float,
                 zoom: float) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
    """Rotate (``angle`` degrees), zoom and move the lesion frame to ``centre`` (x, y) in the image.

    Only the lesion's bounding box is warped. Returns (the box as (row slice, column slice) of the
    H × W image, ``layers`` (h, w, 4) and ``alpha`` (h, w) inside the box).
    """
    size = lesion.alpha.shape[0]
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, zoom)
    matrix[:, 2] += np.array(centre) - size / 2
    corners = matrix @ np.array([[0, 0, size, size], [0, size, 0, size], [1, 1, 1, 1]], np.float64)
    x0, y0 = (max(0, int(np.floor(v))) for v in corners.min(1))
    x1, y1 = min(width, int(np.ceil(corners[0].max())) + 1), min(height, int(np.ceil(corners[1].max())) + 1)
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


def skin_background(rng: np.random.Generator, tone: np.ndarray, height: int, width: int,
                    scale: float) -> np.ndarray:
    """Class-independent skin around ``tone``: blotchy redness, mottle, light skin furrows and
    fine grain. Returns float32 RGB (H, W, 3) in 0–255 units.
    """
    shape = (height, width)
    redness = rng.uniform(1.5, 5) * smooth_noise(rng, shape, 50 * scale)
    texture = (rng.uniform(1, 3) * smooth_noise(rng, shape, 8 * scale)
               + rng.uniform(3, 9) * ridges(rng, shape, rng.uniform(20, 40) * scale, rng.uniform(0.05, 0.1))
               + rng.uniform(3, 6) * smooth_noise(rng, shape, 1.0 * scale))
    return tone + redness[..., None] * np.float32([0.3, -1.0, -0.7]) + texture[..., None]


def illumination(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
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


def vignette(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Dermoscope field of view (H, W, 1): on ~30 % of images a circle (radius 0.8–1.0 of the
    half-diagonal, slightly off-centre) outside which the image falls to near black."""
    if rng.random() > 0.3:
        return np.ones((height, width, 1), np.float32)
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    cx, cy = width / 2 + rng.normal(0, 0.03 * width), height / 2 + rng.normal(0, 0.03 * height)
    dist = np.hypot(xx - cx, yy - cy) / (np.hypot(width, height) / 2)
    edge = rng.uniform(0.8, 1.0)
    return np.clip(1 - (dist - edge) / rng.uniform(0.03, 0.08), 0.04, 1)[..., None]


def draw_hairs(rng: np.random.Generator, image: np.ndarray, scale: float) -> None:
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


def draw_bubbles(rng: np.random.Generator, image: np.ndarray, scale: float) -> None:
    """Draw immersion-fluid bubbles (bright rims with a highlight) on ~12 % of images and a few
    specular spots on ~30 % (in place, uint8 RGB (H, W, 3))."""
    height, width = image.shape[:2]
    if rng.random() < 0.12:
        for _ in range(int(rng.integers(1, 6))):
            centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            radius = max(2, int(rng.uniform(4, 25) * scale))
            cv2.circle(image, centre, radius, (226, 226, 226), 1, cv2.LINE_AA)
            cv2.circle(image, (centre[0] - radius // 3, centre[1] - radius // 3), max(1, radius // 5),
                       (250, 250, 250), -1, cv2.LINE_AA)
    if rng.random() < 0.3:
        for _ in range(int(rng.integers(1, 6))):
            centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            cv2.circle(image, centre, max(1, int(rng.uniform(1, 3) * scale)), (252, 252, 252), -1, cv2.LINE_AA)


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
    box, layers, alpha = place_lesion(lesion, height, width, moved, rng.normal(0, 12), rng.uniform(0.92, 1.08))
    image = skin_background(rng, tone * rng.uniform(0.97, 1.03, 3).astype(np.float32), height, width, scale)
    coverage = layers[..., 3:]
    image[box] = image[box] * (1 - coverage) + layers[..., :3] * coverage
    image = cv2.GaussianBlur(image * illumination(rng, height, width), (0, 0), rng.uniform(0.5, 1.0) * scale)
    image = np.clip(image, 0, 255).astype(np.uint8)
    draw_hairs(rng, image, scale)
    draw_bubbles(rng, image, scale)
    image = np.clip(image * vignette(rng, height, width), 0, 255).astype(np.uint8)
    mask = np.zeros((height, width), bool)
    mask[box] = alpha >= 0.5
    return image, mask


def lesion_classes(rng: np.random.Generator, n_lesions: int) -> list[str]:
    """Draw ``n_lesions`` classes with HAM10000's shares, shuffled; when ``n_lesions`` >= 50 every
    class gets at least ``MIN_LESIONS_PER_CLASS`` lesions (the rest are drawn by share)."""
    guaranteed = ([dx for dx in CLASSES for _ in range(MIN_LESIONS_PER_CLASS)]
                  if n_lesions >= MIN_LESIONS_FOR_GUARANTEE else [])
    shares = np.array([CLASS_FREQUENCIES[dx] for dx in CLASSES])
    drawn = rng.choice(len(CLASSES), size=n_lesions - len(guaranteed), p=shares / shares.sum())
    classes = guaranteed + [CLASSES[i] for i in drawn]
    return [classes[i] for i in rng.permutation(len(classes))]


def lesion_centre(rng: np.random.Generator, height: int, width: int, radius: float) -> tuple[float, float]:
    """Lesion centre (x, y) in pixels: near the image centre, or on ~15 % of lesions close to a
    border so that the lesion crosses it."""
    if rng.random() < 0.15:
        side = int(rng.integers(4))
        along = (rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height)
        return [(radius * 0.4, along[1]), (width - radius * 0.4, along[1]),
                (along[0], radius * 0.4), (along[0], height - radius * 0.4)][side]
    return (float(np.clip(rng.normal(width / 2, 0.1 * width), 0.2 * width, 0.8 * width)),
            float(np.clip(rng.normal(height / 2, 0.1 * height), 0.2 * height, 0.8 * height)))


def lesion_metadata(rng: np.random.Generator, dx: str) -> dict[str, object]:
    """Per-lesion metadata in HAM10000 vocabulary: dx_type, age (multiple of 5, years), sex, localization."""
    dx_types = DX_TYPES[dx]
    sites = np.array(list(LOCALIZATIONS.values()))
    return {
        "dx_type": str(rng.choice(list(dx_types), p=np.array(list(dx_types.values())))),
        "age": float(5 * np.clip(np.round(rng.normal(MEAN_AGE[dx], 14) / 5), 1, 17)),
        "sex": str(rng.choice(["male", "female"], p=[0.54, 0.46])),
        "localization": str(rng.choice(list(LOCALIZATIONS), p=sites / sites.sum())),
    }


def write_demo_dataset(out_dir: str | os.PathLike, n_lesions: int, seed: int, width: int = 600,
                       height: int = 450, repeat_fraction: float = 0.2) -> pd.DataFrame:
    """Write ``n_lesions`` synthetic lesions to ``out_dir`` in the HAM10000 release layout.

    About ``repeat_fraction`` of the lesions get 2–3 photos under one lesion_id. Images are
    ``width`` × ``height`` RGB JPEGs, masks 0/255 PNGs. Returns the metadata table written to
    ``HAM10000_metadata.csv``; the same ``seed`` gives byte-identical files.
    """
    if n_lesions < 1:
        raise ValueError(f"n_lesions must be positive, got {n_lesions}")
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    scale = width / REFERENCE_WIDTH
    rows: list[dict[str, object]] = []
    for number, dx in enumerate(lesion_classes(rng, n_lesions)):
        area = np.exp(rng.uniform(*np.log(LESION_AREA))) * width * height
        radius = float(np.sqrt(area / np.pi))
        lesion = draw_lesion(rng, dx, radius, scale)
        centre, tone = lesion_centre(rng, height, width, radius), skin_tone(rng)
        meta = {"lesion_id": f"HAM_{number:07d}", "dx": dx, **lesion_metadata(rng, dx)}
        for _ in range(int(rng.integers(2, 4)) if rng.random() < repeat_fraction else 1):
            image_id = f"ISIC_{FIRST_IMAGE_NUMBER + len(rows):07d}"
            image, mask = photograph(rng, lesion, tone, height, width, centre)
            write_image(image, out / IMAGE_DIR / f"{image_id}.jpg")
            write_mask(mask, out / MASK_DIR / f"{image_id}_segmentation.png")
            rows.append({**meta, "image_id": image_id})
    table = pd.DataFrame(rows)[METADATA_COLUMNS]
    write_csv(table, out / "HAM10000_metadata.csv")
    log.info("wrote %d demo images (%dx%d) of %d lesions to %s; images per class %s", len(table), width,
             height, n_lesions, out, table.dx.value_counts().to_dict())
    return table


def main(argv: list[str] | None = None) -> None:
    """CLI: ``python -m xaicut.demo_data OUT_DIR --n-lesions N --seed S [--width W --height H]``."""
    parser = argparse.ArgumentParser(description="Write the seeded synthetic HAM10000-layout demo dataset.")
    parser.add_argument("out_dir", type=Path, help="output folder (HAM10000 release layout)")
    parser.add_argument("--n-lesions", type=int, required=True, help="number of distinct lesions")
    parser.add_argument("--seed", type=int, required=True, help="random seed (same seed, same bytes)")
    parser.add_argument("--width", type=int, default=600, help="image width in pixels")
    parser.add_argument("--height", type=int, default=450, help="image height in pixels")
    parser.add_argument("--repeat-fraction", type=float, default=0.2,
                        help="share of lesions photographed 2-3 times")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    write_demo_dataset(args.out_dir, args.n_lesions, args.seed, args.width, args.height, args.repeat_fraction)


if __name__ == "__main__":
    main()
