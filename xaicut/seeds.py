"""Seeds for the graph cut: soft masks and trimaps from attribution maps and image evidence.

A :class:`Seed` tells :func:`xaicut.graphcut.graph_cut_refine` which pixels initialise the lesion
colour model (``initial``, a *soft* seed) and which pixels are *hard* constraints
(``certain_fg`` / ``certain_bg``: the cut must keep their label). Its ``trimap`` property encodes
the same as int8: 1 = certain lesion, 0 = certain skin, -1 = unknown (left to the cut).

Modes of :func:`build_seed` (``maps``: attribution maps in [0, 1], one per XAI method; ``V`` the
dermoscope vignette of :func:`vignette_mask`, never lesion):

* ``and`` (paper 000 §2.3/§2.5): each map binarised by its own Otsu threshold, the masks ANDed,
  then cleaned (:func:`clean_seed`); a soft seed, no hard constraints.
* ``trimap`` (paper 004 §3.4): the maps fused by their pixelwise mean (or min); fused value
  ``>= high`` is certain lesion, ``<= low`` certain skin, in between unknown. Certain lesion is
  cleaned (components smaller than ``min_area`` and all but the most central one become
  unknown, paper 004 Algorithm 1); ``V`` is certain skin.
* ``trimap_otsu``: ``trimap`` plus image evidence, the Otsu lesion ``O`` of :func:`otsu_seed`.
  Certain lesion = fused ``>= high``, or in ``O`` with fused ``>= otsu_min_map`` (cleaned as
  above); certain skin = ``V``, or fused ``<= low`` outside ``O``. So the image can extend the
  certain lesion into the map's uncertain band and keeps its lesion out of the certain skin;
  where map and image disagree the pixel stays unknown.
* ``consensus``: hard constraints only where the maps and the image agree, soft evidence where
  either says lesion. Certain lesion = ``O`` with fused ``>= high`` (cleaned as above); certain
  skin = ``V``, or fused ``<= low`` farther than ``consensus_margin`` (share of the longest side)
  from ``O``; the soft seed (lesion GMM initialisation) is ``O`` plus the map's own cleaned
  certain lesion (fused ``>= high``), minus certain skin. A map pointing at skin (a weak or wrong
  classifier) then cannot force skin into the lesion or the lesion into the skin, and the cut
  falls back on the image evidence; a good map still extends a lesion that Otsu only found the
  dark core of.
* ``otsu``: the Otsu lesion alone as a soft seed; the maps are not used.

Statuses (``Seed.status``; the first that applies, in this order):

* ``empty_seed``: no lesion seed is left (all-zero or constant map, flat image); the graph cut
  then returns its own ``empty_seed`` fallback (an all-skin mask).
* ``otsu_only``: ``trimap_otsu`` whose (rescaled) map has no certain lesion, or ``consensus``
  where map and Otsu lesion share no certain lesion: the Otsu lesion is used as a soft seed, as
  in mode ``otsu``.
* ``small_seed``: no lesion component reaches ``min_area``; the most central one of any size is
  kept (paper 004 would drop the image; a pipeline must segment it).
* ``map_only``: ``consensus`` on an image without Otsu lesion: mode ``trimap`` is used.
* ``nonfinite_map``: a map held NaN or +-inf; those values were replaced by 0 (no evidence of
  lesion) and the seed built as usual.
* ``ok``.

Maps of the wrong shape, no maps (except for ``otsu``) or an unknown mode raise ``ValueError``.
Lengths given as fractions refer to the image's longest side and areas to its pixel count, so
one parameter set serves 600x450 originals and downscaled copies. Why these modes and defaults,
with the measurements behind them: ``docs/segmentation.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import cv2
import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

from xaicut.fuse import binarise_map
from xaicut.images import check_rgb_image, min_max_scale, single_channel
from xaicut.masks import central_component, components_touching, disk, normalised_radius

SEED_MODES = ("and", "trimap", "trimap_otsu", "consensus", "otsu")
MAP_FUSIONS = ("mean", "min")
RESCALE_MODES = ("never", "if_needed", "always")


@dataclass(frozen=True)
class SeedParams:
    """Parameters of :func:`build_seed`; defaults measured on real HAM10000 images with simulated
    coarse maps (``docs/segmentation.md``)."""

    low: float = 0.35  # fused map value <= low: certain skin (paper 004 §3.4)
    high: float = 0.65  # fused map value >= high: certain lesion (paper 004 §3.4)
    fusion: str = "mean"  # how trimap modes fuse several maps: "mean" or "min"
    rescale: str = "if_needed"  # min-max rescale the fused map: "never", "if_needed", "always"
    min_area_fraction: float = 0.01  # alpha: drop seed components below this share of pixels
    vignette: bool = True  # detect the dark dermoscope corners (never lesion)
    otsu_min_map: float = 0.5  # trimap_otsu: Otsu lesion where the map is >= this is certain
    consensus_margin: float = 0.05  # consensus: certain skin only this far from the Otsu lesion

    def __post_init__(self) -> None:
        if self.rescale not in RESCALE_MODES:
            raise ValueError(f"rescale must be one of {RESCALE_MODES}, got {self.rescale!r}")
        if not 0.0 <= self.low < self.high <= 1.0:
            raise ValueError(f"need 0 <= low < high <= 1, got low={self.low}, high={self.high}")
        if self.fusion not in MAP_FUSIONS:
            raise ValueError(f"fusion must be one of {MAP_FUSIONS}, got {self.fusion!r}")
        if not 0.0 <= self.min_area_fraction < 1.0:
            raise ValueError(f"min_area_fraction must be in [0, 1), got {self.min_area_fraction}")
        if not 0.0 <= self.otsu_min_map <= 1.0:
            raise ValueError(f"otsu_min_map must be in [0, 1], got {self.otsu_min_map}")
        if not 0.0 <= self.consensus_margin <= 1.0:
            raise ValueError(f"consensus_margin must be in [0, 1], got {self.consensus_margin}")


DEFAULT_SEED_MODE = "consensus"
"""Recommended mode of :func:`build_seed` (``docs/segmentation.md``)."""

DEFAULT_SEED_PARAMS = SeedParams()


@dataclass(frozen=True)
class Seed:
    """A graph-cut seed: bool (H, W) masks and the status of how it was made (module docstring).

    ``initial``: lesion pixels that initialise the lesion GMM (contains ``certain_fg``, disjoint
    from ``certain_bg``); ``certain_fg`` / ``certain_bg``: hard lesion / skin constraints
    (disjoint; all False in the soft modes ``and`` and ``otsu``).
    """

    initial: np.ndarray
    certain_fg: np.ndarray
    certain_bg: np.ndarray
    status: str = "ok"

    @property
    def trimap(self) -> np.ndarray:
        """int8 (H, W): 1 certain lesion, 0 certain skin, -1 unknown."""
        trimap = np.full(self.initial.shape, -1, dtype=np.int8)
        trimap[self.certain_fg] = 1
        trimap[self.certain_bg] = 0
        return trimap


def scaled_length(shape: tuple[int, ...], fraction: float) -> int:
    """``fraction`` of the longest side of ``shape`` (H, W, ...), in whole px (>= 0)."""
    return int(round(fraction * max(shape[:2])))


def blurred_channel(image: np.ndarray, channel: str = "l",
                    sigma_fraction: float = 0.01) -> np.ndarray:
    """One darker-is-lesion channel (``xaicut.images.single_channel``: ``"l"``, ``"blue"`` or
    ``"gray"``) of a uint8 RGB image, Gaussian-blurred; float32 (H, W).

    ``sigma_fraction``: blur sigma as a share of the longest side (>= 1 px).
    """
    sigma = max(1.0, sigma_fraction * max(image.shape[:2]))
    return cv2.GaussianBlur(single_channel(image, channel), (0, 0), sigma)


def vignette_mask(image: np.ndarray, dark_ratio: float = 0.5,
                  min_radius: float = 0.8) -> np.ndarray:
    """Dark dermoscope corners (the area outside the round field of view), bool (H, W).

    ``image``: uint8 RGB (H, W, 3). A pixel is *dark* when its blurred L (CIE-Lab) is below
    ``dark_ratio`` times the median L of the central region (inscribed-ellipse radius < 0.5).
    The vignette is every dark 8-connected region that contains an image corner, grown by 2 %
    of the longest side (the soft rim of the field of view) and restricted to pixels at
    inscribed-ellipse radius >= ``min_radius``, so a dark lesion in the middle is never taken.
    """
    lightness = blurred_channel(image, "l")
    radius = normalised_radius(lightness.shape)
    reference = float(np.median(lightness[radius < 0.5]))
    corners = np.zeros(lightness.shape, dtype=bool)
    corners[[0, 0, -1, -1], [0, -1, 0, -1]] = True
    vignette = components_touching(lightness < dark_ratio * reference, corners).astype(np.uint8)
    vignette = cv2.dilate(vignette, disk(max(1, scaled_length(image.shape, 0.02)))) > 0
    return vignette & (radius >= min_radius)


def clean_seed(mask: np.ndarray, min_area: int,
               vignette: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """Seed cleaning of paper 004 Algorithm 1: the most central large component of ``mask``
    (:func:`xaicut.masks.central_component`).

    ``mask``: bool (H, W) lesion seed; ``min_area``: components (8-connected) with fewer pixels
    are passed over (alpha); ``vignette``: bool (H, W) pixels removed first (never lesion).
    Returns ``(bool (H, W), status)``: ``ok``; ``small_seed`` when no component reaches
    ``min_area`` and the most central one of any size is kept instead (paper 004 would drop the
    image); ``empty_seed`` (all False) when nothing is left.
    """
    if vignette is not None:
        mask = mask & ~vignette
    component, large = central_component(mask, min_area)
    if large:
        return component, "ok"
    return component, "small_seed" if component.any() else "empty_seed"


def otsu_seed(
    image: np.ndarray,
    vignette: np.ndarray | None = None,
    channel: str = "blue",
    min_area_fraction: float = 0.01,
) -> np.ndarray:
    """Unsupervised lesion estimate: Otsu threshold on a darker-is-lesion channel, bool (H, W).

    ``image``: uint8 RGB (H, W, 3); ``vignette``: bool (H, W) dark corners (computed with
    :func:`vignette_mask` when None), excluded from the threshold and from the lesion.
    Steps: a grey closing of radius 1 % of the longest side suppresses thin dark hairs; Gaussian
    blur (:func:`blurred_channel`); Otsu threshold over the non-vignette pixels, darker = lesion;
    opening (1 %) and hole filling; the most central component of at least ``min_area_fraction``
    of the pixels, or the most central of any size if none is that large (:func:`clean_seed`).
    A flat image gives an all-False mask.
    """
    vignette = vignette_mask(image) if vignette is None else vignette
    radius = max(1, scaled_length(image.shape, 0.01))
    dehaired = cv2.morphologyEx(image, cv2.MORPH_CLOSE, disk(radius))
    values = blurred_channel(dehaired, channel)
    inside = values[~vignette] if (~vignette).any() else values.ravel()
    if inside.max() - inside.min() < 1e-6:
        return np.zeros(values.shape, dtype=bool)
    lesion = (values <= threshold_otsu(inside)) & ~vignette
    lesion = cv2.morphologyEx(lesion.astype(np.uint8), cv2.MORPH_OPEN, disk(radius)) > 0
    lesion = ndimage.binary_fill_holes(lesion)
    return clean_seed(lesion, int(min_area_fraction * lesion.size), vignette)[0]


def trimap_from_map(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Three-way split of a map in [0, 1]: int8 (H, W), 1 where ``values >= high`` (certain
    lesion), 0 where ``values <= low`` (certain skin), -1 between (unknown).

    ``values`` must be finite (see :func:`sanitise_map`) and ``low < high``; else ``ValueError``.
    """
    if not low < high:
        raise ValueError(f"need low < high, got low={low}, high={high}")
    if not np.isfinite(values).all():
        raise ValueError("map values must be finite; clean them with sanitise_map first")
    trimap = np.full(values.shape, -1, dtype=np.int8)
    trimap[values >= high] = 1
    trimap[values <= low] = 0
    return trimap


def sanitise_map(values: np.ndarray) -> tuple[np.ndarray, bool]:
    """``(map, had_nonfinite)``: float64 copy of ``values`` with NaN/+-inf set to 0 and clipped
    to [0, 1]; ``had_nonfinite`` tells whether anything was replaced."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    return np.clip(np.where(finite, values, 0.0), 0.0, 1.0), not finite.all()


def check_maps(maps: dict[str, np.ndarray], shape: tuple[int, int]) -> None:
    """``ValueError`` unless ``maps`` is a non-empty dict of 2-D arrays of ``shape`` (H, W)."""
    if not maps:
        raise ValueError("need at least one attribution map")
    for name, values in maps.items():
        if np.shape(values) != shape:
            raise ValueError(f"map {name!r} has shape {np.shape(values)}, image has {shape}")


def fuse_maps(maps: list[np.ndarray], fusion: str, rescale: str = "never",
              high: float = 1.0) -> np.ndarray:
    """Pixelwise ``"mean"`` or ``"min"`` of same-shape float maps in [0, 1], float64 (H, W).

    ``rescale``: ``"always"`` min-max rescales the result to [0, 1] (a constant result becomes
    0); ``"if_needed"`` does so only when no value reaches ``high`` (each map is normalised per
    method, but maps peaking in different places have a mean that may never reach ``high``);
    ``"never"`` keeps the absolute values.
    """
    stack = np.stack(maps)
    fused = stack.mean(axis=0) if fusion == "mean" else stack.min(axis=0)
    if rescale == "never" or (rescale == "if_needed" and fused.max() >= high):
        return fused
    return min_max_scale(fused)


def soft_seed(initial: np.ndarray, status: str) -> Seed:
    """A :class:`Seed` without hard constraints."""
    none = np.zeros(initial.shape, dtype=bool)
    return Seed(initial, none, none.copy(), status)


def otsu_only_seed(lesion: np.ndarray) -> Seed:
    """The Otsu lesion (bool (H, W)) as soft seed where a map or student gives no certain lesion:
    status ``otsu_only``, or ``empty_seed`` when there is no Otsu lesion either."""
    return soft_seed(lesion, "otsu_only" if lesion.any() else "empty_seed")


def hard_seed(certain_fg: np.ndarray, certain_bg: np.ndarray, status: str) -> Seed:
    """A trimap :class:`Seed`: ``certain_fg`` initialises the lesion GMM; where the two masks
    overlap (only possible through the vignette) the pixel is certain skin."""
    certain_fg = certain_fg & ~certain_bg
    return Seed(certain_fg, certain_fg, certain_bg, status)


def merge_status(cleaning: str, maps: str) -> str:
    """The cleaning status unless it is ``ok``, else the map status (module docstring order)."""
    return cleaning if cleaning != "ok" else maps


def and_seed(maps: list[np.ndarray], min_area: int,
             vignette: np.ndarray) -> tuple[np.ndarray, str]:
    """Paper 000: per-map Otsu binarisation, AND, then cleaning; ``(bool (H, W), status)``."""
    fused = np.logical_and.reduce([binarise_map(values, "otsu") for values in maps])
    return clean_seed(fused, min_area, vignette)


def map_trimap(fused: np.ndarray, params: SeedParams, min_area: int,
               vignette: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """``(certain_fg, certain_bg, status)`` of mode ``trimap`` for a fused map in [0, 1]."""
    trimap = trimap_from_map(fused, params.low, params.high)
    certain_fg, status = clean_seed(trimap == 1, min_area, vignette)
    return certain_fg, (trimap == 0) | vignette, status


def otsu_trimap(fused: np.ndarray, lesion: np.ndarray, params: SeedParams, min_area: int,
                vignette: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """``(certain_fg, certain_bg, status)`` of mode ``trimap_otsu`` given the Otsu lesion."""
    evidence = (fused >= params.high) | (lesion & (fused >= params.otsu_min_map))
    certain_fg, status = clean_seed(evidence, min_area, vignette)
    return certain_fg, ((fused <= params.low) & ~lesion) | vignette, status


def consensus_seed(fused: np.ndarray, lesion: np.ndarray, params: SeedParams, min_area: int,
                   vignette: np.ndarray) -> Seed:
    """Mode ``consensus`` (module docstring) for a fused map and a non-empty Otsu lesion."""
    margin = max(1, scaled_length(lesion.shape, params.consensus_margin))
    near_lesion = cv2.dilate(lesion.astype(np.uint8), disk(margin)) > 0
    certain_bg = ((fused <= params.low) & ~near_lesion) | vignette
    certain_fg, status = clean_seed(lesion & (fused >= params.high), min_area, vignette)
    if not certain_fg.any():
        return soft_seed(lesion, "otsu_only")
    map_lesion = clean_seed(fused >= params.high, min_area, vignette)[0]
    return Seed((lesion | map_lesion) & ~certain_bg, certain_fg & ~certain_bg, certain_bg, status)


def read_only(array: np.ndarray) -> np.ndarray:
    """``array``, marked read-only (shared by several seeds, so nobody may change it)."""
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class ImageEvidence:
    """What every seed mode of one image reads from the image alone, each computed at most once
    and only when a mode asks for it.

    ``image``: uint8 RGB (H, W, 3) (``ValueError`` otherwise); ``params``: :class:`SeedParams`
    (its ``vignette`` and ``min_area_fraction`` matter here).
    """

    image: np.ndarray
    params: SeedParams = DEFAULT_SEED_PARAMS

    def __post_init__(self) -> None:
        check_rgb_image(self.image)

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the image."""
        return self.image.shape[:2]

    @cached_property
    def vignette(self) -> np.ndarray:
        """bool (H, W): :func:`vignette_mask`, or all False when ``params.vignette`` is off."""
        if not self.params.vignette:
            return read_only(np.zeros(self.shape, dtype=bool))
        return read_only(vignette_mask(self.image))

    @cached_property
    def lesion(self) -> np.ndarray:
        """bool (H, W): the Otsu lesion (:func:`otsu_seed`) outside :attr:`vignette`."""
        return read_only(otsu_seed(self.image, self.vignette,
                                   min_area_fraction=self.params.min_area_fraction))


def build_seed(mode: str, maps: dict[str, np.ndarray], image: np.ndarray,
               params: SeedParams | None = None) -> Seed:
    """Build the graph-cut seed of ``mode`` (module docstring) for one image.

    ``maps``: attribution maps by method name, each float (H, W) in [0, 1] (NaN/inf become 0,
    status ``nonfinite_map``; ignored by mode ``otsu``, which accepts an empty dict);
    ``image``: uint8 RGB (H, W, 3); ``params``: :class:`SeedParams` (defaults when None).
    Returns a :class:`Seed` of bool (H, W) masks; raises
    ``ValueError`` for an unknown mode, a non-uint8-RGB image or missing / misshapen maps.
    Several modes of one image: :func:`evidence_seed` with one :class:`ImageEvidence`.
    """
    return evidence_seed(mode, maps, ImageEvidence(image, params or DEFAULT_SEED_PARAMS))


def evidence_seed(mode: str, maps: dict[str, np.ndarray], evidence: ImageEvidence) -> Seed:
    """:func:`build_seed` of ``mode`` for the image of ``evidence``, with its parameters; the
    vignette and the Otsu lesion come from ``evidence`` (computed once for all modes)."""
    params = evidence.params
    if mode not in SEED_MODES:
        raise ValueError(f"mode must be one of {SEED_MODES}, got {mode!r}")
    shape = evidence.shape
    min_area = int(params.min_area_fraction * shape[0] * shape[1])
    if mode == "otsu":
        lesion = evidence.lesion
        return soft_seed(lesion, "ok" if lesion.any() else "empty_seed")
    check_maps(maps, shape)
    vignette = evidence.vignette
    cleaned = [sanitise_map(values) for values in maps.values()]
    values = [v for v, _ in cleaned]
    map_status = "nonfinite_map" if any(bad for _, bad in cleaned) else "ok"
    if mode == "and":
        initial, status = and_seed(values, min_area, vignette)
        return soft_seed(initial, merge_status(status, map_status))
    fused = fuse_maps(values, params.fusion, params.rescale, params.high)
    if mode == "trimap":
        certain_fg, certain_bg, status = map_trimap(fused, params, min_area, vignette)
        return hard_seed(certain_fg, certain_bg, merge_status(status, map_status))
    lesion = evidence.lesion
    if mode == "consensus":
        if lesion.any():
            seed = consensus_seed(fused, lesion, params, min_area, vignette)
            return replace(seed, status=merge_status(seed.status, map_status))
        certain_fg, certain_bg, status = map_trimap(fused, params, min_area, vignette)
        return hard_seed(certain_fg, certain_bg, merge_status(status, "map_only"))
    if not (fused >= params.high).any():
        return otsu_only_seed(lesion)
    certain_fg, certain_bg, status = otsu_trimap(fused, lesion, params, min_area, vignette)
    return hard_seed(certain_fg, certain_bg, merge_status(status, map_status))


def simulated_map(truth: np.ndarray, grid: int, noise_sigma: float,
                  rng: np.random.Generator) -> np.ndarray:
    """A coarse attribution-like map for tests and benchmarks, float32 (H, W) in [0, 1].

    ``truth`` (bool (H, W)) is area-pooled to ``grid`` x ``grid``, Gaussian noise of
    ``noise_sigma`` is added, and the result is bilinear-upsampled to the image size and clipped.
    """
    height, width = truth.shape
    pooled = cv2.resize(truth.astype(np.float32), (grid, grid), interpolation=cv2.INTER_AREA)
    noisy = (pooled + rng.normal(0.0, noise_sigma, pooled.shape)).astype(np.float32)
    return np.clip(cv2.resize(noisy, (width, height), interpolation=cv2.INTER_LINEAR), 0, 1)
