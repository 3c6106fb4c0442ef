"""Demo lesions: a random blob per lesion, painted with its class's look (``xaicut.demo_data``).

The diagnosis is visible only here: each class has its own colour palette (``STYLES``), internal
structures (pigment network, globules, blotches, vessels, scale, lagoons, central scar; one
painter per class, ``PAINTERS``), border irregularity and edge sharpness. A lesion is drawn in its
own square frame; ``xaicut.demo_photo`` places it in a photograph. Pixel sizes are given for a
600-pixel-wide image and scale with ``scale`` = image width / 600.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from xaicut.demo_textures import blend, mesh, ramp, ridges, smooth_noise

Colour = tuple[int, int, int]
"""An RGB anchor colour, 0-255 per channel."""

BORDER_SAMPLES = 2048
"""Angular resolution of the lesion border function."""


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
        {"light": (186, 116, 78), "dark": (112, 60, 38), "network": (86, 44, 30),
         "globule": (92, 50, 34)},
        (0.03, 0.07), (0.0, 0.008), (4.0, 12.0), (0.85, 0.97), (0.1, 0.4)),
    "mel": LesionStyle(
        {"light": (168, 112, 84), "dark": (88, 52, 42), "black": (42, 32, 36),
         "blue": (104, 110, 138), "red": (182, 96, 100), "white": (214, 200, 206)},
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
        {"light": (204, 48, 82), "dark": (126, 34, 88), "deep": (70, 36, 78),
         "septum": (224, 168, 184)},
        (0.03, 0.08), (0.0, 0.008), (2.0, 4.0), (0.95, 1.0), (0.0, 0.1)),
    "df": LesionStyle(
        {"light": (198, 134, 114), "dark": (154, 98, 72), "network": (128, 80, 58),
         "scar": (236, 222, 218)},
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


def _class_palette(rng: np.random.Generator, dx: str) -> dict[str, np.ndarray]:
    """The named colours of one lesion of class ``dx``: the class anchors with per-lesion jitter.

    Returns float32 RGB (3,) arrays; a common brightness factor keeps within-class variation.
    """
    brightness = rng.uniform(0.88, 1.08)
    return {name: np.clip(np.float32(rgb) * brightness + rng.normal(0, 7, 3),
                          0, 255).astype(np.float32)
            for name, rgb in STYLES[dx].colours.items()}


def _dot_map(rng: np.random.Generator, frame: LesionFrame, count: int,
             radius_px: tuple[float, float],
             band: tuple[float, float] = (0.0, 0.9)) -> np.ndarray:
    """Weights (P, P) in [0, 1] of ``count`` round dots whose centres lie at ``band`` normalised
    radii.

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


def _branching_lines(rng: np.random.Generator, frame: LesionFrame, trunks: int,
                     thickness: float) -> np.ndarray:
    """Weights (P, P) of branching, tapering, meandering lines (arborising vessels) inside the
    lesion."""
    canvas = np.zeros(frame.rr.shape, np.uint8)
    half, step = frame.rr.shape[0] / 2, max(frame.radius / 7, 2.0)
    stack = [(half + rng.normal(0, frame.radius / 3, 2), rng.uniform(0, 2 * np.pi), thickness, 0)
             for _ in range(trunks)]
    while stack:
        start, heading, width, depth = stack.pop()
        headings = heading + np.cumsum(rng.normal(0, 0.45, 6))
        points = start + np.cumsum(np.stack([np.cos(headings), np.sin(headings)], 1) * step, 0)
        points = np.vstack([start, points]).astype(np.int32)
        cv2.polylines(canvas, [points], False, 255, max(1, int(round(width * frame.scale))),
                      cv2.LINE_AA)
        if depth < 2:
            for index in rng.choice(np.arange(1, 6), size=2, replace=False):
                turn = rng.choice([-1, 1]) * rng.uniform(0.4, 1.0)
                branch_start = points[index].astype(np.float64)
                stack.append((branch_start, headings[index - 1] + turn, width * 0.6, depth + 1))
    return canvas.astype(np.float32) / 255 * ramp(1.0 - frame.rr, 0.0, 0.15)


def _paint_nv(rng: np.random.Generator, frame: LesionFrame, c: dict[str, np.ndarray]) -> np.ndarray:
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
    return blend(rgb, c["globule"], 0.8 * _dot_map(rng, frame, count, (2.0, 3.5)) * periphery)


def _paint_mel(rng: np.random.Generator, frame: LesionFrame,
               c: dict[str, np.ndarray]) -> np.ndarray:
    """Melanoma: asymmetric multicolour zones (brown, black, blue-grey veil, regression, red),
    atypical thick network and irregular peripheral dots/globules."""
    shape = frame.rr.shape
    angle = rng.uniform(0, 2 * np.pi)
    slope = ((frame.xx * np.cos(angle) + frame.yy * np.sin(angle))
             / frame.radius).astype(np.float32)
    zones = smooth_noise(rng, shape, frame.radius / 5) + rng.uniform(0.5, 1.3) * slope
    rgb = blend(np.broadcast_to(c["light"], (*shape, 3)), c["dark"], ramp(zones, -1.0, 0.0))
    rgb = blend(rgb, c["black"], 0.9 * ramp(zones, 0.7, 1.3))
    veil = ramp(smooth_noise(rng, shape, frame.radius / 4), rng.uniform(0.5, 1.1), 1.5)
    rgb = blend(rgb, c["blue"], 0.75 * veil)
    rgb = blend(rgb, c["white"], 0.6 * ramp(smooth_noise(rng, shape, frame.radius / 5), 1.2, 1.8))
    if rng.random() < 0.4:
        rgb = blend(rgb, c["red"], 0.5 * ramp(smooth_noise(rng, shape, frame.radius / 6), 0.8, 1.5))
    net = mesh(rng, shape, rng.uniform(14, 24) * frame.scale, rng.uniform(0.2, 0.4))
    rgb = blend(rgb, c["black"],
                0.45 * net * ramp(smooth_noise(rng, shape, frame.radius / 4), -0.3, 0.5))
    count = int(frame.radius / frame.scale / 6) + 4
    dots = _dot_map(rng, frame, count, (1.5, 6.0), band=(0.55, 0.95))
    dots = cv2.GaussianBlur(dots, (0, 0), 1.5 * frame.scale)
    rgb = blend(rgb, c["dark"] * 0.7, 0.8 * dots)
    return rgb * (1 + 0.06 * smooth_noise(rng, shape, 3 * frame.scale))[..., None]


def _paint_bkl(rng: np.random.Generator, frame: LesionFrame,
               c: dict[str, np.ndarray]) -> np.ndarray:
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
    rgb = blend(rgb, c["milia"], 0.85 * _dot_map(rng, frame, count, (1.5, 3.5)))
    return blend(rgb, c["comedo"], 0.8 * _dot_map(rng, frame, count // 2 + 1, (2.0, 4.0)))


def _paint_bcc(rng: np.random.Generator, frame: LesionFrame,
               c: dict[str, np.ndarray]) -> np.ndarray:
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
    vessels = _branching_lines(rng, frame, int(rng.integers(2, 5)), rng.uniform(2.0, 4.0))
    return blend(rgb, c["vessel"], 0.9 * vessels)


def _paint_akiec(rng: np.random.Generator, frame: LesionFrame,
                 c: dict[str, np.ndarray]) -> np.ndarray:
    """Actinic keratosis / Bowen's: red-pink 'strawberry' background, white-yellow surface scale,
    clusters of dotted/glomerular vessels, sometimes light-brown pigment."""
    shape = frame.rr.shape
    rgb = blend(np.broadcast_to(c["light"], (*shape, 3)), c["dark"],
                ramp(smooth_noise(rng, shape, frame.radius / 4), -0.6, 1.2))
    if rng.random() < 0.3:
        rgb = blend(rgb, c["brown"],
                    0.6 * ramp(smooth_noise(rng, shape, frame.radius / 5), 0.3, 1.2))
    count = int(frame.radius ** 2 / (120 * frame.scale ** 2)) + 10
    clusters = ramp(smooth_noise(rng, shape, frame.radius / 6), 0.0, 0.6)
    rgb = blend(rgb, c["vessel"], 0.85 * _dot_map(rng, frame, count, (1.0, 2.5)) * clusters)
    keratin = ramp(smooth_noise(rng, shape, rng.uniform(6, 14) * frame.scale),
                   rng.uniform(0.3, 0.9), 1.6)
    grain = 0.8 + 0.2 * smooth_noise(rng, shape, 1.0 * frame.scale)
    return blend(rgb, c["scale"], np.clip(0.85 * keratin * grain, 0, 1))


def _paint_vasc(rng: np.random.Generator, frame: LesionFrame,
                c: dict[str, np.ndarray]) -> np.ndarray:
    """Vascular lesion: red/purple/dark-blue lagoons separated by whitish septa."""
    shape = frame.rr.shape
    lagoons = smooth_noise(rng, shape, frame.radius / 7)
    rgb = blend(np.broadcast_to(c["light"], (*shape, 3)), c["dark"], ramp(lagoons, -0.4, 0.6))
    rgb = blend(rgb, c["deep"], 0.8 * ramp(smooth_noise(rng, shape, frame.radius / 5), 0.6, 1.4))
    septa = mesh(rng, shape, frame.radius * rng.uniform(0.5, 0.9), rng.uniform(0.08, 0.14))
    return blend(rgb, c["septum"], 0.6 * septa * ramp(1 - frame.rr, 0.05, 0.3))


def _paint_df(rng: np.random.Generator, frame: LesionFrame, c: dict[str, np.ndarray]) -> np.ndarray:
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


PAINTERS: dict[str, Callable[[np.random.Generator, LesionFrame, dict[str, np.ndarray]],
                             np.ndarray]] = {
    "akiec": _paint_akiec, "bcc": _paint_bcc, "bkl": _paint_bkl, "df": _paint_df,
    "mel": _paint_mel, "nv": _paint_nv, "vasc": _paint_vasc,
}


def _lesion_shape(rng: np.random.Generator, radius: float, irregularity: float, roughness: float,
                 scale: float) -> LesionFrame:
    """A smooth random blob: an ellipse (aspect 1–1.6, area-preserving) whose radius is modulated by
    a Fourier series (harmonics 2–7 with amplitude ``irregularity`` · 2/k, 8–20 with
    ``roughness`` · (8/k)^1.5).

    ``radius`` is the mean radius in pixels; returns the lesion's frame, just large enough to hold
    it.
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
    frame = _lesion_shape(rng, radius, rng.uniform(*style.irregularity),
                          rng.uniform(*style.roughness), scale)
    rgb = PAINTERS[dx](rng, frame, _class_palette(rng, dx))
    rgb = rgb * (1 + 0.05 * smooth_noise(rng, frame.rr.shape, 2 * scale))[..., None]
    edge = rng.uniform(*style.edge_px) * scale
    alpha = np.clip((1 - frame.rr) * radius / max(edge, 0.5) + 0.5, 0, 1).astype(np.float32)
    opacity = (rng.uniform(*style.opacity)
               * (1 - rng.uniform(*style.fade) * ramp(frame.rr, 0.5, 1.0)))
    return Lesion(np.dstack([np.clip(rgb, 0, 255), alpha * opacity]).astype(np.float32), alpha)
