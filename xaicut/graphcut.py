"""Colour-GMM graph-cut refinement of an XAI seed (paper 000, §2.5 and §4; trimaps of paper 004).

The seed (``xaicut.seeds``) is only a rough estimate of the lesion. It is refined by an iterated
GrabCut-style energy minimisation over binary labels ``x_p`` (1 = lesion, 0 = skin) on the pixel
grid:

    E(x) = sum_p D_p(x_p) + sum_{(p,q) in N} w_pq * [x_p != x_q]

* Unary (data) term (``xaicut.color_models``): ``D_p(1) = -log p_fg(z_p)`` and
  ``D_p(0) = -log p_bg(z_p)``, where ``z_p`` is the colour of pixel ``p`` (CIE-Lab by default,
  L in [0, 100]) and ``p_fg`` / ``p_bg`` are full-covariance Gaussian mixtures
  (``fg_components`` / ``bg_components``) fitted to the pixels currently labelled lesion / skin.
  Hard constraints (a trimap's certain lesion / certain skin) replace ``D_p`` by
  ``xaicut.color_models.HARD_CAPACITY`` towards the other label, so those pixels never change.
* Pairwise term (``xaicut.pairwise_terms``): colour contrast, Sobel gradient and local texture
  similarity of neighbours, weighted by ``lambda_c = pairwise_weight``,
  ``lambda_g = gradient_weight``, ``lambda_t = texture_weight`` (nats at working size) over the
  4- or 8-neighbourhood ``N``. Gradient and texture default to 0 (colour contrast only;
  ``docs/segmentation.md``).

The global minimum for fixed GMMs is an s-t minimum cut (``xaicut.grid_cut``). With a soft seed
(paper 000) the GMMs are first fitted on seed vs. the rest; with a trimap the skin GMM is first
fitted on the certain skin only (the unknown band is left out). The GMMs are then refitted on
each new segmentation and the cut repeated until the fraction of changed pixels drops below
``tolerance`` or ``max_iterations`` cuts have been made. The cut runs at a reduced working size
for speed; the result is cleaned morphologically (opening, closing, hole filling, one connected
component: the largest, the one nearest the image centre, or all, ``xaicut.masks``; with hard
constraints the components touching the certain lesion), the constraints are re-imposed, and it
is upsampled (nearest neighbour).

Degenerate inputs never raise; they return a fallback whose ``status`` names the case
(a region "is empty" when it has fewer than ``MIN_REGION_PIXELS`` pixels at working size, too
few to fit a colour model):

* ``ok``: normal run, the cleaned graph-cut mask.
* ``empty_seed``: the seed has no lesion region; no cut, the mask is the certain lesion (all
  False without constraints).
* ``full_seed``: the seed has no skin region; no cut, the mask is everything but the certain skin
  (all True without constraints).
* ``constant_image``: every pixel has the same colour (at working size); the seed, no cut.
* ``empty_cut``: the cut, or its clean-up, leaves no lesion region; the seed.
* ``full_cut``: the cut leaves no skin region; the seed.

"The seed" always means ``(seed_mask | certain_fg) & ~certain_bg``. Invalid inputs (image not
uint8 (H, W, 3), seed or constraints not bool of the image's (H, W), overlapping constraints)
raise ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage
from threadpoolctl import ThreadpoolController

from xaicut.color_models import (
    COLOR_SPACES,
    color_features,
    color_palette,
    fit_color_gmms,
    sampling_order,
    unary_costs,
)
from xaicut.grid_cut import GridCut
from xaicut.images import check_rgb_image
from xaicut.masks import KEEP_COMPONENT_MODES, check_mask, disk, resize_mask, select_component
from xaicut.pairwise_terms import pairwise_weights

_THREAD_POOLS = ThreadpoolController()
"""The BLAS/OpenMP thread pools loaded with NumPy, SciPy and scikit-learn, found once at import
(a fresh ``threadpool_limits`` searches the loaded libraries again on every call)."""

MIN_REGION_PIXELS = 20
"""A lesion or skin region with fewer working-size pixels than this counts as empty: a seed or
cut with such a region cannot be modelled and takes a fallback (module docstring)."""


@dataclass(frozen=True)
class GraphCutParams:
    """Parameters of :func:`graph_cut_refine`; pixel sizes refer to the working size.

    ``pairwise_weight`` acts at working size: shrinking the image scales a region's unary total
    with its area but its boundary cost only with its length, so a smaller working size means
    relatively stronger smoothing. The default 10 (GrabCut uses 50 at full resolution) matches
    ``config.yaml``; at 50 lesions with soft rims were cut back to their dark core.
    """

    fg_components: int = 5  # GMM components for lesion colour
    bg_components: int = 5  # GMM components for skin colour
    pairwise_weight: float = 10.0  # lambda_c of the colour-contrast Potts term (nats)
    gradient_weight: float = 0.0  # lambda_g of the gradient-magnitude term (nats), 0 = off
    texture_weight: float = 0.0  # lambda_t of the local-texture term (nats), 0 = off
    texture_window: int = 5  # side (px, odd) of the window of the local standard deviation
    connectivity: int = 8  # 4 or 8
    max_iterations: int = 5
    tolerance: float = 0.001  # stop when fraction of changed pixels < tolerance
    working_size: int = 256  # longest side (px) the cut runs at; 0 = full size
    gmm_max_pixels: int = 2000  # pixels subsampled per region for GMM fitting
    color_space: str = "lab"  # "lab" or "rgb"
    fill_holes: bool = True
    opening_radius: int = 2  # px at working size, 0 = off
    closing_radius: int = 2  # px at working size, 0 = off
    keep_component: str = "largest"  # "largest", "nearest_centre" or "all"
    seed: int = 0  # random_state for GMM and subsampling

    def __post_init__(self) -> None:
        if self.fg_components < 1 or self.bg_components < 1:
            raise ValueError("fg_components and bg_components must be >= 1")
        for name in ("pairwise_weight", "gradient_weight", "texture_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.texture_window < 3 or self.texture_window % 2 == 0:
            raise ValueError(f"texture_window must be odd and >= 3, got {self.texture_window}")
        if self.connectivity not in (4, 8):
            raise ValueError(f"connectivity must be 4 or 8, got {self.connectivity}")
        if self.max_iterations < 1:
            raise ValueError(f"max_iterations must be >= 1, got {self.max_iterations}")
        if self.tolerance < 0:
            raise ValueError(f"tolerance must be >= 0, got {self.tolerance}")
        if self.working_size < 0:
            raise ValueError(f"working_size must be >= 0, got {self.working_size}")
        if self.gmm_max_pixels < 1:
            raise ValueError(f"gmm_max_pixels must be >= 1, got {self.gmm_max_pixels}")
        if self.color_space not in COLOR_SPACES:
            raise ValueError(f"color_space must be one of {COLOR_SPACES}, got {self.color_space!r}")
        if self.opening_radius < 0 or self.closing_radius < 0:
            raise ValueError("opening_radius and closing_radius must be >= 0")
        if self.keep_component not in KEEP_COMPONENT_MODES:
            raise ValueError(
                f"keep_component must be one of {KEEP_COMPONENT_MODES}, got {self.keep_component!r}"
            )


@dataclass(frozen=True)
class GraphCutResult:
    """Outcome of :func:`graph_cut_refine`.

    ``mask`` is bool (H, W) at image size; ``status`` is ``"ok"`` or the fallback taken (module
    docstring); ``iterations`` counts the cuts made (0 for fallbacks decided before any cut);
    ``changed_ratio`` is the fraction of working-size pixels whose label changed in the last cut
    (0.0 when no cut was made).
    """

    mask: np.ndarray
    status: str
    iterations: int
    changed_ratio: float


def _working_shape(height: int, width: int, working_size: int) -> tuple[int, int]:
    """(h, w) with the longest side at most ``working_size`` px (0 = unchanged; never upscales)."""
    longest = max(height, width)
    if working_size == 0 or longest <= working_size:
        return height, width
    scale = working_size / longest
    return max(1, round(height * scale)), max(1, round(width * scale))


def _constraint(name: str, mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """``mask`` as bool (H, W) (all False for None); ``ValueError`` for a wrong dtype or shape."""
    if mask is None:
        return np.zeros(shape, dtype=bool)
    check_mask(name, mask, shape)
    return mask


def _resize_inputs(
    image: np.ndarray, seed_mask: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Resize image (area averaging) and seed (nearest neighbour) to ``shape`` = (h, w)."""
    if shape == image.shape[:2]:
        return image, seed_mask
    small_image = cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return small_image, resize_mask(seed_mask, shape)


def _has_both_regions(labels: np.ndarray) -> bool:
    """True when lesion and skin each have at least ``MIN_REGION_PIXELS`` pixels."""
    lesion = int(np.count_nonzero(labels))
    return min(lesion, labels.size - lesion) >= MIN_REGION_PIXELS


def _iterate_cuts(
    image: np.ndarray,
    seed_mask: np.ndarray,
    params: GraphCutParams,
    certain_fg: np.ndarray | None = None,
    certain_bg: np.ndarray | None = None,
) -> tuple[np.ndarray, int, float]:
    """Alternate GMM fitting and minimum cuts on a non-constant uint8 RGB image.

    Starts from ``seed_mask`` (bool, image shape, both regions non-empty) and stops when the
    fraction of changed pixels is below ``params.tolerance``, after ``params.max_iterations``
    cuts, or when a cut empties a region (that cut is returned). ``certain_fg`` / ``certain_bg``
    (bool, image shape, or None) are hard constraints; when ``certain_bg`` has at least
    ``MIN_REGION_PIXELS`` pixels the first skin GMM is fitted on it alone (trimap: the unknown
    band is left out), later ones on the current skin labels. Returns
    ``(labels, iterations, changed_ratio)``.
    """
    colours, index = color_palette(image)
    palette_features = color_features(colours[:, None, :], params.color_space)[:, 0, :]
    features = palette_features[index]
    order = sampling_order(index.shape, params.seed)
    pairwise = pairwise_weights(
        image, features, connectivity=params.connectivity, colour_weight=params.pairwise_weight,
        gradient_weight=params.gradient_weight, texture_weight=params.texture_weight,
        texture_window=params.texture_window,
    )
    cut = GridCut(pairwise, index.shape)
    components = (params.fg_components, params.bg_components)
    labels, gmms = seed_mask, None
    use_certain_bg = certain_bg is not None and np.count_nonzero(certain_bg) >= MIN_REGION_PIXELS
    bg_mask = certain_bg if use_certain_bg else None
    for iteration in range(1, params.max_iterations + 1):
        gmms = fit_color_gmms(features, labels, components, params.gmm_max_pixels, params.seed,
                              previous=gmms, bg_mask=bg_mask, order=order)
        bg_mask = None
        new_labels = cut.solve(*unary_costs(palette_features, index, *gmms, certain_fg, certain_bg))
        changed_ratio = float(np.mean(new_labels != labels))
        labels = new_labels
        if changed_ratio < params.tolerance or not _has_both_regions(labels):
            break
    return labels, iteration, changed_ratio


def _clean_mask(
    mask: np.ndarray, params: GraphCutParams, anchor: np.ndarray | None = None
) -> np.ndarray:
    """Morphological clean-up: opening, closing, hole filling, then component selection.

    Radii are in pixels of ``mask``; ``anchor`` is passed to ``xaicut.masks.select_component``;
    returns bool of the same shape.
    """
    cleaned = mask.astype(np.uint8)
    if params.opening_radius > 0:
        cleaned = cv2.morphologyEx(cleaned, cv2.MORPH_OPEN, disk(params.opening_radius))
    if params.closing_radius > 0:
        cleaned = cv2.morphologyEx(cleaned, cv2.MORPH_CLOSE, disk(params.closing_radius))
    cleaned = cleaned.astype(bool)
    if params.fill_holes:
        cleaned = ndimage.binary_fill_holes(cleaned)
    return select_component(cleaned, params.keep_component, anchor)


def _apply_constraints(
    mask: np.ndarray, certain_fg: np.ndarray, certain_bg: np.ndarray
) -> np.ndarray:
    """``mask`` with certain lesion pixels set and certain skin pixels cleared (bool (H, W))."""
    return (mask | certain_fg) & ~certain_bg


def graph_cut_refine(
    image: np.ndarray,
    seed_mask: np.ndarray,
    params: GraphCutParams,
    certain_fg: np.ndarray | None = None,
    certain_bg: np.ndarray | None = None,
) -> GraphCutResult:
    """Refine a seed mask into a lesion segmentation by iterated colour-GMM graph cuts.

    ``image``: uint8 RGB (H, W, 3). ``seed_mask``: bool (H, W), True = initial lesion estimate
    (soft: it only initialises the lesion GMM). ``certain_fg`` / ``certain_bg``: optional bool
    (H, W) hard constraints, e.g. a trimap's certain lesion / certain skin (``xaicut.seeds``);
    they keep their label in every cut and in the returned mask, the first skin GMM is fitted on
    ``certain_bg`` alone, and ``seed_mask`` is taken as ``(seed_mask | certain_fg) & ~certain_bg``.
    Returns a :class:`GraphCutResult` whose mask is bool (H, W); degenerate inputs give the
    fallbacks listed in the module docstring. Deterministic for a fixed ``params.seed``.
    Raises ``ValueError`` for inputs of the wrong dtype or shape, or overlapping constraints.
    """
    check_rgb_image(image)
    full_shape = image.shape[:2]
    check_mask("seed_mask", seed_mask, full_shape)
    certain_fg = _constraint("certain_fg", certain_fg, full_shape)
    certain_bg = _constraint("certain_bg", certain_bg, full_shape)
    if (certain_fg & certain_bg).any():
        raise ValueError("certain_fg and certain_bg overlap")
    seed_mask = _apply_constraints(seed_mask, certain_fg, certain_bg)
    shape = _working_shape(*full_shape, params.working_size)
    small_image, small_seed = _resize_inputs(np.ascontiguousarray(image), seed_mask, shape)
    small_fg, small_bg = resize_mask(certain_fg, shape), resize_mask(certain_bg, shape)
    lesion_pixels = int(np.count_nonzero(small_seed))
    if lesion_pixels < MIN_REGION_PIXELS:
        return GraphCutResult(certain_fg.copy(), "empty_seed", 0, 0.0)
    if small_seed.size - lesion_pixels < MIN_REGION_PIXELS:
        return GraphCutResult(~certain_bg, "full_seed", 0, 0.0)
    if (small_image == small_image[0, 0]).all():
        return GraphCutResult(seed_mask.copy(), "constant_image", 0, 0.0)

    # The BLAS/OpenMP work is on tiny matrices (3x3 covariances, a few GMM components), where
    # worker threads only add synchronisation cost, so the library thread pools run single-threaded.
    with _THREAD_POOLS.limit(limits=1):
        labels, iterations, changed_ratio = _iterate_cuts(
            small_image, small_seed, params, small_fg if small_fg.any() else None,
            small_bg if small_bg.any() else None,
        )
    if not _has_both_regions(labels):
        status = "empty_cut" if np.count_nonzero(labels) < MIN_REGION_PIXELS else "full_cut"
        return GraphCutResult(seed_mask.copy(), status, iterations, changed_ratio)
    cleaned = _apply_constraints(_clean_mask(labels, params, small_fg), small_fg, small_bg)
    if np.count_nonzero(cleaned) < MIN_REGION_PIXELS:
        return GraphCutResult(seed_mask.copy(), "empty_cut", iterations, changed_ratio)
    mask = _apply_constraints(resize_mask(cleaned, full_shape), certain_fg, certain_bg)
    return GraphCutResult(mask, "ok", iterations, changed_ratio)
