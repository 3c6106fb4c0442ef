"""Colour-GMM graph-cut refinement of a fused XAI seed mask (paper 000, §2.5 and §4).

The fused Grad-CAM/SHAP mask is only a rough, soft initial estimate of the lesion. It is refined
by an iterated GrabCut-style energy minimisation over binary labels ``x_p`` (1 = lesion, 0 = skin)
on the pixel grid:

    E(x) = sum_p D_p(x_p) + sum_{(p,q) in N} w_pq * [x_p != x_q]

* Unary (data) term: ``D_p(1) = -log p_fg(z_p)`` and ``D_p(0) = -log p_bg(z_p)``, where ``z_p`` is
  the colour of pixel ``p`` (CIE-Lab by default, L in [0, 100]) and ``p_fg`` / ``p_bg`` are
  full-covariance Gaussian mixtures fitted to the pixels currently labelled lesion / skin.
* Pairwise term: the contrast-sensitive Potts model of Boykov & Jolly (2001) and GrabCut,
  ``w_pq = lambda * exp(-beta * ||z_p - z_q||^2) / dist(p, q)`` with
  ``beta = 1 / (2 * mean ||z_p - z_q||^2)`` over all neighbouring pairs of the image and
  ``N`` the 4- or 8-neighbourhood. Cutting between dissimilar colours is cheap.

The global minimum for fixed GMMs is an s-t minimum cut (PyMaxflow; source = lesion). The seed
only initialises the GMMs (soft seeds, as in the paper): GMMs are refitted on each new
segmentation and the cut is repeated until the fraction of changed pixels drops below
``tolerance`` or ``max_iterations`` cuts have been made. The cut runs at a reduced working size
for speed; the result is cleaned morphologically (opening, closing, hole filling, one connected
component) and upsampled (nearest neighbour) to the image size.

Degenerate inputs never raise; they return a fallback whose ``status`` names the case
(a region "is empty" when it has fewer than ``MIN_REGION_PIXELS`` pixels at working size, too
few to fit a colour model):

* ``ok``: normal run, the cleaned graph-cut mask.
* ``empty_seed``: the seed has no lesion region; all-False mask, no cut.
* ``full_seed``: the seed has no skin region; all-True mask, no cut.
* ``constant_image``: every pixel has the same colour (at working size); the seed, no cut.
* ``empty_cut``: the cut, or its clean-up, leaves no lesion region; the seed.
* ``full_cut``: the cut leaves no skin region; the seed.

Invalid inputs (image not uint8 (H, W, 3), seed not bool, shapes differing) raise ``ValueError``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import cv2
import maxflow
import numpy as np
from scipy import ndimage
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

REG_COVAR = 1e-2
"""Added to GMM covariance diagonals (squared colour units) to keep them invertible."""

MIN_SAMPLES_PER_COMPONENT = 10
"""A GMM gets at most one component per this many fitting samples."""

MIN_REGION_PIXELS = 20
"""A lesion or skin region with fewer working-size pixels than this counts as empty: a seed or
cut with such a region cannot be modelled and takes a fallback (module docstring)."""

GMM_MAX_ITER = 10
"""Maximum EM steps of a GMM fitted from scratch (k-means initialisation)."""

WARM_START_MAX_ITER = 2
"""Maximum EM steps of a GMM refit warm-started from the previous iteration's model."""

KEEP_COMPONENT_MODES = ("largest", "central", "all")
COLOR_SPACES = ("lab", "rgb")


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
    pairwise_weight: float = 10.0  # lambda of the contrast-sensitive Potts term (nats)
    connectivity: int = 8  # 4 or 8
    max_iterations: int = 5
    tolerance: float = 0.001  # stop when fraction of changed pixels < tolerance
    working_size: int = 256  # longest side (px) the cut runs at; 0 = full size
    gmm_max_pixels: int = 5000  # pixels subsampled per region for GMM fitting
    color_space: str = "lab"  # "lab" or "rgb"
    fill_holes: bool = True
    opening_radius: int = 2  # px at working size, 0 = off
    closing_radius: int = 2  # px at working size, 0 = off
    keep_component: str = "largest"  # "largest", "central" or "all"
    seed: int = 0  # random_state for GMM and subsampling

    def __post_init__(self) -> None:
        if self.fg_components < 1 or self.bg_components < 1:
            raise ValueError("fg_components and bg_components must be >= 1")
        if self.pairwise_weight < 0:
            raise ValueError(f"pairwise_weight must be >= 0, got {self.pairwise_weight}")
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


def validate_inputs(image: np.ndarray, seed_mask: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``image`` is uint8 (H, W, 3) and ``seed_mask`` bool (H, W)."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        found = getattr(image, "dtype", type(image))
        raise ValueError(f"image must be a uint8 numpy array, got {found}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image must have shape (H, W, 3), got {image.shape}")
    if not isinstance(seed_mask, np.ndarray) or seed_mask.dtype != np.bool_:
        raise ValueError(
            f"seed_mask must be a bool numpy array (e.g. mask > 0), "
            f"got {getattr(seed_mask, 'dtype', type(seed_mask))}"
        )
    if seed_mask.shape != image.shape[:2]:
        raise ValueError(
            f"seed_mask shape {seed_mask.shape} differs from image shape {image.shape[:2]}"
        )


def working_shape(height: int, width: int, working_size: int) -> tuple[int, int]:
    """(h, w) with the longest side at most ``working_size`` px (0 = unchanged; never upscales)."""
    longest = max(height, width)
    if working_size == 0 or longest <= working_size:
        return height, width
    scale = working_size / longest
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_inputs(
    image: np.ndarray, seed_mask: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Resize image (area averaging) and seed (nearest neighbour) to ``shape`` = (h, w)."""
    if shape == image.shape[:2]:
        return image, seed_mask
    size = (shape[1], shape[0])
    small_image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_seed = cv2.resize(seed_mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return small_image, small_seed


def color_features(image: np.ndarray, color_space: str) -> np.ndarray:
    """Per-pixel colour features, float32 (H, W, 3).

    ``"lab"``: CIE-Lab with L in [0, 100] and a, b roughly in [-128, 127];
    ``"rgb"``: RGB in [0, 255].
    """
    as_float = image.astype(np.float32)
    if color_space == "lab":
        return cv2.cvtColor(as_float / 255.0, cv2.COLOR_RGB2Lab)
    return as_float


def color_palette(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct colours of a uint8 RGB image: ``(colours (U, 3) uint8, index (H, W) int)``.

    ``colours[index]`` reproduces the image; GMM scores are computed once per distinct colour.
    """
    channels = image.astype(np.int32)
    packed = (channels[..., 0] << 16) | (channels[..., 1] << 8) | channels[..., 2]
    codes, index = np.unique(packed.ravel(), return_inverse=True)
    colours = np.stack([codes >> 16, (codes >> 8) & 255, codes & 255], axis=1).astype(np.uint8)
    return colours, index.reshape(image.shape[:2])


def count_distinct_rows(samples: np.ndarray) -> int:
    """Number of distinct feature vectors, via a 1-D projection (collisions only undercount)."""
    weights = np.array([1.0, 1e3 * np.pi, 1e6 * np.e])[: samples.shape[1]]
    return int(np.unique(samples.astype(np.float64) @ weights).size)


def component_cap(samples: np.ndarray, max_components: int) -> int:
    """Largest usable number of GMM components for ``samples`` (N, C), N >= 1.

    Capped by the number of distinct samples and by ``N // MIN_SAMPLES_PER_COMPONENT`` so that
    every component has data to fit.
    """
    by_count = len(samples) // MIN_SAMPLES_PER_COMPONENT
    return max(1, min(max_components, by_count, count_distinct_rows(samples)))


def fit_gmm(
    samples: np.ndarray, max_components: int, seed: int, previous: GaussianMixture | None
) -> GaussianMixture:
    """Fit a full-covariance GMM to ``samples`` (N, C), N >= 1.

    With ``previous`` (the model of the last iteration, if it has no more components than the
    samples allow) EM is warm-started from its parameters and runs at most
    ``WARM_START_MAX_ITER`` steps, like GrabCut's one re-estimation per iteration; otherwise
    it starts from k-means and runs at most ``GMM_MAX_ITER`` steps.
    """
    n_components = component_cap(samples, max_components)
    common = {"covariance_type": "full", "reg_covar": REG_COVAR, "random_state": seed}
    if previous is not None and previous.n_components <= n_components:
        gmm = GaussianMixture(
            n_components=previous.n_components,
            max_iter=WARM_START_MAX_ITER,
            weights_init=previous.weights_,
            means_init=previous.means_,
            precisions_init=previous.precisions_,
            **common,
        )
    else:
        gmm = GaussianMixture(n_components=n_components, max_iter=GMM_MAX_ITER, **common)
    with warnings.catch_warnings():
        # Capping EM steps is deliberate; the models are refitted in the next iteration anyway.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gmm.fit(samples)


def subsample(samples: np.ndarray, max_count: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``max_count`` rows of ``samples`` (N, C), drawn without replacement."""
    if len(samples) <= max_count:
        return samples
    return samples[rng.choice(len(samples), size=max_count, replace=False)]


def fit_color_gmms(
    features: np.ndarray,
    fg_mask: np.ndarray,
    params: GraphCutParams,
    previous: tuple[GaussianMixture, GaussianMixture] | None = None,
) -> tuple[GaussianMixture, GaussianMixture]:
    """Fit the lesion and skin colour GMMs.

    ``features``: float (H, W, C) colour features; ``fg_mask``: bool (H, W) current lesion
    labels, with at least one True and one False pixel; ``previous``: ``(fg_gmm, bg_gmm)`` of the
    last iteration to warm-start from, or None. Each region is subsampled to at most
    ``params.gmm_max_pixels`` pixels (deterministic for ``params.seed``).
    Returns ``(fg_gmm, bg_gmm)``.
    """
    if not fg_mask.any() or fg_mask.all():
        raise ValueError("fg_mask must contain both lesion and skin pixels")
    rng = np.random.default_rng(params.seed)
    fg_samples = subsample(features[fg_mask], params.gmm_max_pixels, rng)
    bg_samples = subsample(features[~fg_mask], params.gmm_max_pixels, rng)
    fg_previous, bg_previous = previous if previous is not None else (None, None)
    return (
        fit_gmm(fg_samples, params.fg_components, params.seed, fg_previous),
        fit_gmm(bg_samples, params.bg_components, params.seed, bg_previous),
    )


def unary_costs(
    palette_features: np.ndarray,
    index: np.ndarray,
    fg_gmm: GaussianMixture,
    bg_gmm: GaussianMixture,
) -> tuple[np.ndarray, np.ndarray]:
    """Terminal capacities (source = lesion) from GMM negative log-likelihoods.

    ``palette_features``: float (U, C) features of the distinct colours; ``index``: int (H, W)
    palette entry of each pixel. Returns ``(source_caps, sink_caps)``, float64 (H, W), in nats.
    ``sink_caps`` is the cost of labelling a pixel lesion and ``source_caps`` of labelling it
    skin; the per-pixel minimum of the two is subtracted (it does not change the minimiser) so
    both are non-negative.
    """
    log_ratio = fg_gmm.score_samples(palette_features) - bg_gmm.score_samples(palette_features)
    lesion_advantage = log_ratio[index]
    return np.maximum(lesion_advantage, 0.0), np.maximum(-lesion_advantage, 0.0)


def neighbour_offsets(connectivity: int) -> list[tuple[int, int]]:
    """Forward neighbour offsets (dy, dx); each undirected neighbour pair appears once."""
    offsets = [(0, 1), (1, 0)]
    if connectivity == 8:
        offsets += [(1, 1), (1, -1)]
    return offsets


def offset_squared_differences(features: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """``||z_p - z_q||^2`` for ``q = p + offset``, stored at ``p``; float64 (H, W), NaN where ``q``
    is outside the image."""
    dy, dx = offset
    height, width = features.shape[:2]
    result = np.full((height, width), np.nan)
    rows_p = slice(0, height - dy)
    rows_q = slice(dy, height)
    cols_p = slice(max(0, -dx), width - max(0, dx))
    cols_q = slice(max(0, dx), width - max(0, -dx))
    diff = features[rows_p, cols_p].astype(np.float64) - features[rows_q, cols_q]
    result[rows_p, cols_p] = np.einsum("...c,...c->...", diff, diff)
    return result


def contrast_weights(
    features: np.ndarray, params: GraphCutParams
) -> list[tuple[tuple[int, int], np.ndarray]]:
    """Contrast-sensitive Potts weights per neighbour direction.

    Returns ``[(offset, weights)]`` with ``weights`` float64 (H, W) holding
    ``lambda * exp(-beta * ||z_p - z_q||^2) / |offset|`` for the edge from ``p`` to
    ``q = p + offset`` (0 where ``q`` is outside the image), and
    ``beta = 1 / (2 * mean ||z_p - z_q||^2)`` over all neighbour pairs. The image must not be
    constant (the mean would be 0).
    """
    offsets = neighbour_offsets(params.connectivity)
    squared = [(o, offset_squared_differences(features, o)) for o in offsets]
    beta = 1.0 / (2.0 * np.nanmean(np.concatenate([s.ravel() for _, s in squared])))
    return [
        (o, np.nan_to_num(params.pairwise_weight * np.exp(-beta * s) / np.hypot(*o), nan=0.0))
        for o, s in squared
    ]


def offset_structure(offset: tuple[int, int]) -> np.ndarray:
    """3x3 structure array selecting the single neighbour at ``offset`` (for ``add_grid_edges``)."""
    structure = np.zeros((3, 3))
    structure[1 + offset[0], 1 + offset[1]] = 1.0
    return structure


class GridCut:
    """s-t graph on the pixel grid with fixed pairwise edges and updatable terminal capacities.

    Successive :meth:`solve` calls re-use the previous flow and search trees (dynamic graph
    cuts, Kohli & Torr 2005), which is exact and much cheaper than rebuilding the graph.
    """

    def __init__(self, pairwise: list[tuple[tuple[int, int], np.ndarray]], shape: tuple[int, int]):
        self.graph = maxflow.Graph[float]()
        self.nodes = self.graph.add_grid_nodes(shape)
        for offset, weights in pairwise:
            self.graph.add_grid_edges(
                self.nodes, weights=weights, structure=offset_structure(offset), symmetric=True
            )
        self.source_caps = np.zeros(shape)
        self.sink_caps = np.zeros(shape)
        self.solved = False

    def solve(self, source_caps: np.ndarray, sink_caps: np.ndarray) -> np.ndarray:
        """Minimum cut for these terminal capacities; bool (H, W), True = source side (lesion)."""
        # Terminal capacities are stored as residuals, so adding the (possibly negative) change
        # turns the previous capacities into the new ones.
        self.graph.add_grid_tedges(
            self.nodes, source_caps - self.source_caps, sink_caps - self.sink_caps
        )
        self.source_caps, self.sink_caps = source_caps, sink_caps
        if self.solved:
            self.graph.mark_grid_nodes(self.nodes)
        self.graph.maxflow(reuse_trees=self.solved)
        self.solved = True
        return ~self.graph.get_grid_segments(self.nodes)


def has_both_regions(labels: np.ndarray) -> bool:
    """True when lesion and skin each have at least ``MIN_REGION_PIXELS`` pixels."""
    lesion = int(np.count_nonzero(labels))
    return min(lesion, labels.size - lesion) >= MIN_REGION_PIXELS


def iterate_cuts(
    image: np.ndarray, seed_mask: np.ndarray, params: GraphCutParams
) -> tuple[np.ndarray, int, float]:
    """Alternate GMM fitting and minimum cuts on a non-constant uint8 RGB image.

    Starts from ``seed_mask`` (bool, image shape, both regions non-empty) and stops when the
    fraction of changed pixels is below ``params.tolerance``, after ``params.max_iterations``
    cuts, or when a cut empties a region (that cut is returned). Returns
    ``(labels, iterations, changed_ratio)``.
    """
    colours, index = color_palette(image)
    palette_features = color_features(colours[:, None, :], params.color_space)[:, 0, :]
    features = palette_features[index]
    cut = GridCut(contrast_weights(features, params), index.shape)
    labels, gmms = seed_mask, None
    for iteration in range(1, params.max_iterations + 1):
        gmms = fit_color_gmms(features, labels, params, previous=gmms)
        new_labels = cut.solve(*unary_costs(palette_features, index, *gmms))
        changed_ratio = float(np.mean(new_labels != labels))
        labels = new_labels
        if changed_ratio < params.tolerance or not has_both_regions(labels):
            break
    return labels, iteration, changed_ratio


def disk(radius: int) -> np.ndarray:
    """Elliptical structuring element of the given radius (px)."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def select_component(mask: np.ndarray, mode: str) -> np.ndarray:
    """Keep the largest (``"largest"``) or most central (``"central"``) 8-connected component.

    The most central component is the one with a pixel closest to the image centre (ties go to
    the larger component). ``"all"`` or an empty mask returns ``mask`` unchanged.
    """
    if mode == "all" or not mask.any():
        return mask
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    areas = stats[1:, cv2.CC_STAT_AREA]
    if mode == "largest":
        return labels == 1 + int(np.argmax(areas))
    rows, cols = np.indices(mask.shape)
    centre_distance = np.hypot(rows - (mask.shape[0] - 1) / 2, cols - (mask.shape[1] - 1) / 2)
    nearest = ndimage.minimum(centre_distance, labels, index=np.arange(1, count))
    best = np.lexsort((-areas, nearest))[0]
    return labels == 1 + int(best)


def clean_mask(mask: np.ndarray, params: GraphCutParams) -> np.ndarray:
    """Morphological clean-up: opening, closing, hole filling, then component selection.

    Radii are in pixels of ``mask``; returns bool of the same shape.
    """
    cleaned = mask.astype(np.uint8)
    if params.opening_radius > 0:
        cleaned = cv2.morphologyEx(cleaned, cv2.MORPH_OPEN, disk(params.opening_radius))
    if params.closing_radius > 0:
        cleaned = cv2.morphologyEx(cleaned, cv2.MORPH_CLOSE, disk(params.closing_radius))
    cleaned = cleaned.astype(bool)
    if params.fill_holes:
        cleaned = ndimage.binary_fill_holes(cleaned)
    return select_component(cleaned, params.keep_component)


def upsample_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a bool mask to ``shape`` = (H, W)."""
    if mask.shape == shape:
        return mask
    size = (shape[1], shape[0])
    return cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0


def graph_cut_refine(
    image: np.ndarray, seed_mask: np.ndarray, params: GraphCutParams
) -> GraphCutResult:
    """Refine a fused XAI seed mask into a lesion segmentation by iterated colour-GMM graph cuts.

    ``image``: uint8 RGB (H, W, 3). ``seed_mask``: bool (H, W), True = initial lesion estimate.
    Returns a :class:`GraphCutResult` whose mask is bool (H, W); degenerate inputs give the
    fallbacks listed in the module docstring. Deterministic for a fixed ``params.seed``.
    Raises ``ValueError`` for inputs of the wrong dtype or shape.
    """
    validate_inputs(image, seed_mask)
    full_shape = seed_mask.shape
    small_image, small_seed = resize_inputs(
        np.ascontiguousarray(image), seed_mask, working_shape(*full_shape, params.working_size)
    )
    lesion_pixels = int(np.count_nonzero(small_seed))
    if lesion_pixels < MIN_REGION_PIXELS:
        return GraphCutResult(np.zeros(full_shape, dtype=bool), "empty_seed", 0, 0.0)
    if small_seed.size - lesion_pixels < MIN_REGION_PIXELS:
        return GraphCutResult(np.ones(full_shape, dtype=bool), "full_seed", 0, 0.0)
    if (small_image == small_image[0, 0]).all():
        return GraphCutResult(seed_mask.copy(), "constant_image", 0, 0.0)

    # The BLAS/OpenMP work is on tiny matrices (3x3 covariances, a few GMM components), where
    # worker threads only add synchronisation cost, so the library thread pools run single-threaded.
    with threadpool_limits(limits=1):
        labels, iterations, changed_ratio = iterate_cuts(small_image, small_seed, params)
    if not has_both_regions(labels):
        status = "empty_cut" if np.count_nonzero(labels) < MIN_REGION_PIXELS else "full_cut"
        return GraphCutResult(seed_mask.copy(), status, iterations, changed_ratio)
    cleaned = clean_mask(labels, params)
    if np.count_nonzero(cleaned) < MIN_REGION_PIXELS:
        return GraphCutResult(seed_mask.copy(), "empty_cut", iterations, changed_ratio)
    return GraphCutResult(upsample_mask(cleaned, full_shape), "ok", iterations, changed_ratio)
