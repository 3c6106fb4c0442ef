"""Colour-GMM graph-cut refinement of an XAI seed (paper 000, §2.5 and §4; trimaps of paper 004).

The seed (``xaicut.seeds``) is only a rough estimate of the lesion. It is refined by an iterated
GrabCut-style energy minimisation over binary labels ``x_p`` (1 = lesion, 0 = skin) on the pixel
grid:

    E(x) = sum_p D_p(x_p) + sum_{(p,q) in N} w_pq * [x_p != x_q]

* Unary (data) term: ``D_p(1) = -log p_fg(z_p)`` and ``D_p(0) = -log p_bg(z_p)``, where ``z_p`` is
  the colour of pixel ``p`` (CIE-Lab by default, L in [0, 100]) and ``p_fg`` / ``p_bg`` are
  full-covariance Gaussian mixtures (``fg_components`` / ``bg_components``) fitted to the pixels
  currently labelled lesion / skin. Hard constraints (a trimap's certain lesion / certain skin)
  replace ``D_p`` by ``HARD_CAPACITY`` towards the other label, so those pixels never change.
* Pairwise term, the paper's "intensity, texture and gradient similarities" (``|p - q|`` is the
  pixel distance, 1 or sqrt 2; ``N`` the 4- or 8-neighbourhood):

      w_pq = ( lambda_c * exp(-beta ||z_p - z_q||^2)
             + lambda_g * exp(-g_pq / mean g)
             + lambda_t * exp(-(t_p - t_q)^2 / (2 mean (t_p - t_q)^2)) ) / |p - q|

  The colour-contrast term is Boykov-Jolly's / GrabCut's, ``beta = 1 / (2 mean ||z_p - z_q||^2)``;
  ``g`` is the 3x3 Sobel gradient magnitude of L and ``g_pq = (g_p + g_q) / 2``; ``t`` is the
  standard deviation of L in a ``texture_window`` x ``texture_window`` box (a texture feature).
  ``lambda_c = pairwise_weight``, ``lambda_g = gradient_weight``, ``lambda_t = texture_weight``
  (nats at working size); the means run over all neighbour pairs of the image. Cutting between
  dissimilar pixels is cheap. On 300 real HAM10000 images with simulated coarse maps the gradient
  and texture terms changed the mean Dice by at most 0.01 either way, so both default to 0
  (colour contrast only; ``docs/segmentation.md``).

The global minimum for fixed GMMs is an s-t minimum cut (PyMaxflow; source = lesion). With a
soft seed (paper 000) the GMMs are first fitted on seed vs. the rest; with a trimap the skin GMM
is first fitted on the certain skin only (the unknown band is left out). The GMMs are then refitted
on each new segmentation and the cut repeated until the fraction of changed pixels drops below
``tolerance`` or ``max_iterations`` cuts have been made. The cut runs at a reduced working size
for speed; the result is cleaned morphologically (opening, closing, hole filling, one connected
component: the largest, the most central, or all; with hard constraints the components touching
the certain lesion), the constraints are re-imposed, and it is upsampled (nearest neighbour).

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

HARD_CAPACITY = 1e9
"""Terminal capacity (nats) tying a certain pixel to its label; far above any cut through the
pixel's at most 8 pairwise edges plus its GMM cost, so the constraint is never violated."""

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
    keep_component: str = "largest"  # "largest", "central" or "all"
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


def validate_constraint(name: str, mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """``mask`` as bool (H, W) (all False for None); ``ValueError`` for a wrong dtype or shape."""
    if mask is None:
        return np.zeros(shape, dtype=bool)
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != shape:
        raise ValueError(
            f"{name} must be a bool numpy array of shape {shape}, "
            f"got {getattr(mask, 'dtype', type(mask))} {getattr(mask, 'shape', '')}"
        )
    return mask


def resize_inputs(
    image: np.ndarray, seed_mask: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Resize image (area averaging) and seed (nearest neighbour) to ``shape`` = (h, w)."""
    if shape == image.shape[:2]:
        return image, seed_mask
    small_image = cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return small_image, upsample_mask(seed_mask, shape)


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
    bg_mask: np.ndarray | None = None,
) -> tuple[GaussianMixture, GaussianMixture]:
    """Fit the lesion and skin colour GMMs.

    ``features``: float (H, W, C) colour features; ``fg_mask``: bool (H, W) pixels of the lesion
    model; ``bg_mask``: bool (H, W) pixels of the skin model (None = ``~fg_mask``; a trimap's
    certain skin leaves its unknown band out); each must have at least one pixel.
    ``previous``: ``(fg_gmm, bg_gmm)`` of the last iteration to warm-start from, or None. Each
    region is subsampled to at most ``params.gmm_max_pixels`` pixels (deterministic for
    ``params.seed``). Returns ``(fg_gmm, bg_gmm)``.
    """
    bg_mask = ~fg_mask if bg_mask is None else bg_mask
    if not fg_mask.any() or not bg_mask.any():
        raise ValueError("fg_mask must contain both lesion and skin pixels")
    rng = np.random.default_rng(params.seed)
    fg_samples = subsample(features[fg_mask], params.gmm_max_pixels, rng)
    bg_samples = subsample(features[bg_mask], params.gmm_max_pixels, rng)
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
    certain_fg: np.ndarray | None = None,
    certain_bg: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Terminal capacities (source = lesion) from GMM negative log-likelihoods.

    ``palette_features``: float (U, C) features of the distinct colours; ``index``: int (H, W)
    palette entry of each pixel. Returns ``(source_caps, sink_caps)``, float64 (H, W), in nats.
    ``sink_caps`` is the cost of labelling a pixel lesion and ``source_caps`` of labelling it
    skin; the per-pixel minimum of the two is subtracted (it does not change the minimiser) so
    both are non-negative. Pixels of the bool (H, W) masks ``certain_fg`` / ``certain_bg`` get
    ``HARD_CAPACITY`` towards their label and 0 towards the other (hard constraints).
    """
    log_ratio = fg_gmm.score_samples(palette_features) - bg_gmm.score_samples(palette_features)
    lesion_advantage = log_ratio[index]
    if certain_fg is not None:
        lesion_advantage = np.where(certain_fg, HARD_CAPACITY, lesion_advantage)
    if certain_bg is not None:
        lesion_advantage = np.where(certain_bg, -HARD_CAPACITY, lesion_advantage)
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


def similarity_terms(features: np.ndarray, offsets: list[tuple[int, int]]) -> list[np.ndarray]:
    """``exp(-||f_p - f_q||^2 / (2 * mean ||f_p - f_q||^2))`` per offset, float64 (H, W) in (0, 1].

    ``features``: float (H, W, C). The mean runs over all neighbour pairs of the image (so
    ``1 / (2 * mean)`` is GrabCut's ``beta``); NaN where ``q = p + offset`` is outside the image.
    Constant features (mean 0) give 1 everywhere.
    """
    squared = [offset_squared_differences(features, o) for o in offsets]
    mean = float(np.nanmean(np.concatenate([s.ravel() for s in squared])))
    if mean <= 0:
        return [np.where(np.isnan(s), np.nan, 1.0) for s in squared]
    return [np.exp(-s / (2.0 * mean)) for s in squared]


def contrast_weights(
    features: np.ndarray, params: GraphCutParams
) -> list[tuple[tuple[int, int], np.ndarray]]:
    """Contrast-sensitive Potts weights per neighbour direction (colour term only).

    Returns ``[(offset, weights)]`` with ``weights`` float64 (H, W) holding
    ``lambda_c * exp(-beta * ||z_p - z_q||^2) / |offset|`` for the edge from ``p`` to
    ``q = p + offset`` (0 where ``q`` is outside the image), and
    ``beta = 1 / (2 * mean ||z_p - z_q||^2)`` over all neighbour pairs.
    """
    offsets = neighbour_offsets(params.connectivity)
    terms = similarity_terms(features, offsets)
    return [
        (o, np.nan_to_num(params.pairwise_weight * t / np.hypot(*o), nan=0.0))
        for o, t in zip(offsets, terms)
    ]


def luminance(image: np.ndarray) -> np.ndarray:
    """CIE-Lab lightness L in [0, 100] of a uint8 RGB image, float32 (H, W)."""
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[..., 0]


def gradient_magnitude(lightness: np.ndarray) -> np.ndarray:
    """3x3 Sobel gradient magnitude of ``lightness`` (float32 (H, W)), in L units per px."""
    gx = cv2.Sobel(lightness, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT)
    gy = cv2.Sobel(lightness, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT)
    return np.hypot(gx, gy) / 8.0  # the Sobel kernel sums |weights| to 8 per direction


def local_std(lightness: np.ndarray, window: int) -> np.ndarray:
    """Standard deviation of ``lightness`` (float32 (H, W)) in a ``window`` x ``window`` box."""
    values = lightness.astype(np.float64)
    mean = cv2.blur(values, (window, window), borderType=cv2.BORDER_REFLECT)
    mean_sq = cv2.blur(values * values, (window, window), borderType=cv2.BORDER_REFLECT)
    return np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))


def gradient_terms(lightness: np.ndarray, offsets: list[tuple[int, int]]) -> list[np.ndarray]:
    """``exp(-g_pq / mean(g))`` per offset with ``g_pq`` the mean Sobel magnitude of p and q.

    Float64 (H, W) in (0, 1]; NaN where ``q`` is outside the image; 1 for a flat image.
    """
    magnitude = gradient_magnitude(lightness).astype(np.float64)
    scale = float(magnitude.mean())
    pair_means = [shifted_mean(magnitude, offset) for offset in offsets]
    if scale <= 0:
        return [np.where(np.isnan(m), np.nan, 1.0) for m in pair_means]
    return [np.exp(-m / scale) for m in pair_means]


def shifted_mean(values: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """``(v_p + v_q) / 2`` for ``q = p + offset``, stored at ``p``; NaN where ``q`` is outside."""
    dy, dx = offset
    height, width = values.shape
    result = np.full((height, width), np.nan)
    cols_p = slice(max(0, -dx), width - max(0, dx))
    cols_q = slice(max(0, dx), width - max(0, -dx))
    result[: height - dy, cols_p] = 0.5 * (values[: height - dy, cols_p] + values[dy:, cols_q])
    return result


def pairwise_weights(
    image: np.ndarray, features: np.ndarray, params: GraphCutParams
) -> list[tuple[tuple[int, int], np.ndarray]]:
    """Edge weights ``w_pq`` per neighbour direction: colour + gradient + texture terms.

    ``image``: uint8 RGB (H, W, 3) at working size; ``features``: its colour features.
    ``w_pq = (lambda_c * exp(-beta ||z_p - z_q||^2) + lambda_g * exp(-g_pq / mean g)
    + lambda_t * exp(-(t_p - t_q)^2 / (2 mean (t_p - t_q)^2))) / |p - q|`` (module docstring);
    returns ``[(offset, weights float64 (H, W))]``, 0 where ``q`` is outside the image.
    """
    weights = contrast_weights(features, params)
    if params.gradient_weight == 0 and params.texture_weight == 0:
        return weights
    offsets = [o for o, _ in weights]
    lightness = luminance(image)
    extra = [np.zeros(features.shape[:2]) for _ in offsets]
    if params.gradient_weight > 0:
        for total, term in zip(extra, gradient_terms(lightness, offsets)):
            total += params.gradient_weight * np.nan_to_num(term, nan=0.0)
    if params.texture_weight > 0:
        texture = local_std(lightness, params.texture_window)[..., None]
        for total, term in zip(extra, similarity_terms(texture, offsets)):
            total += params.texture_weight * np.nan_to_num(term, nan=0.0)
    return [(o, w + e / np.hypot(*o)) for (o, w), e in zip(weights, extra)]


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
    cut = GridCut(pairwise_weights(image, features, params), index.shape)
    labels, gmms = seed_mask, None
    use_certain_bg = certain_bg is not None and np.count_nonzero(certain_bg) >= MIN_REGION_PIXELS
    bg_mask = certain_bg if use_certain_bg else None
    for iteration in range(1, params.max_iterations + 1):
        gmms = fit_color_gmms(features, labels, params, previous=gmms, bg_mask=bg_mask)
        bg_mask = None
        new_labels = cut.solve(*unary_costs(palette_features, index, *gmms, certain_fg, certain_bg))
        changed_ratio = float(np.mean(new_labels != labels))
        labels = new_labels
        if changed_ratio < params.tolerance or not has_both_regions(labels):
            break
    return labels, iteration, changed_ratio


def disk(radius: int) -> np.ndarray:
    """Elliptical structuring element of the given radius (px)."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def select_component(mask: np.ndarray, mode: str, anchor: np.ndarray | None = None) -> np.ndarray:
    """Keep the largest (``"largest"``) or most central (``"central"``) 8-connected component.

    The most central component is the one with a pixel closest to the image centre (ties go to
    the larger component). ``"all"`` or an empty mask returns ``mask`` unchanged. With a bool
    ``anchor`` (certain lesion pixels) that meets ``mask``, every component touching the anchor
    is kept instead, whatever ``mode`` says, so hard constraints survive the clean-up.
    """
    if mode == "all" or not mask.any():
        return mask
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    if anchor is not None and (anchor & mask).any():
        return np.isin(labels, np.unique(labels[anchor & mask]))
    areas = stats[1:, cv2.CC_STAT_AREA]
    if mode == "largest":
        return labels == 1 + int(np.argmax(areas))
    rows, cols = np.indices(mask.shape)
    centre_distance = np.hypot(rows - (mask.shape[0] - 1) / 2, cols - (mask.shape[1] - 1) / 2)
    nearest = ndimage.minimum(centre_distance, labels, index=np.arange(1, count))
    best = np.lexsort((-areas, nearest))[0]
    return labels == 1 + int(best)


def clean_mask(
    mask: np.ndarray, params: GraphCutParams, anchor: np.ndarray | None = None
) -> np.ndarray:
    """Morphological clean-up: opening, closing, hole filling, then component selection.

    Radii are in pixels of ``mask``; ``anchor`` is passed to :func:`select_component`; returns
    bool of the same shape.
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


def upsample_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a bool mask to ``shape`` = (H, W)."""
    if mask.shape == shape:
        return mask
    size = (shape[1], shape[0])
    return cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0


def apply_constraints(
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
    validate_inputs(image, seed_mask)
    full_shape = seed_mask.shape
    certain_fg = validate_constraint("certain_fg", certain_fg, full_shape)
    certain_bg = validate_constraint("certain_bg", certain_bg, full_shape)
    if (certain_fg & certain_bg).any():
        raise ValueError("certain_fg and certain_bg overlap")
    seed_mask = apply_constraints(seed_mask, certain_fg, certain_bg)
    shape = working_shape(*full_shape, params.working_size)
    small_image, small_seed = resize_inputs(np.ascontiguousarray(image), seed_mask, shape)
    small_fg, small_bg = upsample_mask(certain_fg, shape), upsample_mask(certain_bg, shape)
    lesion_pixels = int(np.count_nonzero(small_seed))
    if lesion_pixels < MIN_REGION_PIXELS:
        return GraphCutResult(certain_fg.copy(), "empty_seed", 0, 0.0)
    if small_seed.size - lesion_pixels < MIN_REGION_PIXELS:
        return GraphCutResult(~certain_bg, "full_seed", 0, 0.0)
    if (small_image == small_image[0, 0]).all():
        return GraphCutResult(seed_mask.copy(), "constant_image", 0, 0.0)

    # The BLAS/OpenMP work is on tiny matrices (3x3 covariances, a few GMM components), where
    # worker threads only add synchronisation cost, so the library thread pools run single-threaded.
    with threadpool_limits(limits=1):
        labels, iterations, changed_ratio = iterate_cuts(
            small_image, small_seed, params, small_fg if small_fg.any() else None,
            small_bg if small_bg.any() else None,
        )
    if not has_both_regions(labels):
        status = "empty_cut" if np.count_nonzero(labels) < MIN_REGION_PIXELS else "full_cut"
        return GraphCutResult(seed_mask.copy(), status, iterations, changed_ratio)
    cleaned = apply_constraints(clean_mask(labels, params, small_fg), small_fg, small_bg)
    if np.count_nonzero(cleaned) < MIN_REGION_PIXELS:
        return GraphCutResult(seed_mask.copy(), "empty_cut", iterations, changed_ratio)
    mask = apply_constraints(upsample_mask(cleaned, full_shape), certain_fg, certain_bg)
    return GraphCutResult(mask, "ok", iterations, changed_ratio)
