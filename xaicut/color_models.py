"""Colour models of the graph cut: per-pixel colour features, lesion and skin GMMs, unary costs.

The data term of ``xaicut.graphcut``: ``D_p(1) = -log p_fg(z_p)`` and ``D_p(0) = -log p_bg(z_p)``
with ``z_p`` the colour of pixel ``p`` (:func:`color_features`) and ``p_fg`` / ``p_bg``
full-covariance Gaussian mixtures fitted to the pixels labelled lesion / skin
(:func:`fit_color_gmms`). :func:`unary_costs` turns them into terminal capacities, scoring each
distinct colour once (:func:`color_palette`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from xaicut.images import lab

COLOR_SPACES = ("lab", "rgb")
"""Colour spaces of :func:`color_features`."""

REG_COVAR = 1e-2
"""Added to GMM covariance diagonals (squared colour units) to keep them invertible."""

MIN_SAMPLES_PER_COMPONENT = 10
"""A GMM gets at most one component per this many fitting samples."""

GMM_MAX_ITER = 5
"""Maximum EM steps of a GMM fitted from scratch (k-means++ initialisation); EM stops earlier
when it converges (scikit-learn's ``tol``)."""

WARM_START_MAX_ITER = 1
"""Maximum EM steps of a GMM refit warm-started from the previous iteration's model."""

HARD_CAPACITY = 1e9
"""Terminal capacity (nats) tying a certain pixel to its label; far above any cut through the
pixel's at most 8 pairwise edges plus its GMM cost, so the constraint is never violated."""


def color_features(image: np.ndarray, color_space: str) -> np.ndarray:
    """Per-pixel colour features of a uint8 RGB image (H, W, 3), float32 (H, W, 3).

    ``"lab"``: CIE-Lab with L in [0, 100] and a, b roughly in [-128, 127]
    (``xaicut.images.lab``); ``"rgb"``: RGB in [0, 255].
    """
    if color_space == "lab":
        return lab(image)
    return image.astype(np.float32)


def color_palette(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct colours of a uint8 RGB image: ``(colours (U, 3) uint8, index (H, W) int)``.

    ``colours[index]`` reproduces the image; colours are listed in order of first appearance
    (hashing, ``pandas.factorize``, not sorting). GMM scores are computed once per distinct colour.
    """
    channels = image.astype(np.int32)
    packed = (channels[..., 0] << 16) | (channels[..., 1] << 8) | channels[..., 2]
    index, codes = pd.factorize(packed.ravel())
    colours = np.stack([codes >> 16, (codes >> 8) & 255, codes & 255], axis=1).astype(np.uint8)
    return colours, index.reshape(image.shape[:2])


def sampling_order(shape: tuple[int, int], seed: int) -> np.ndarray:
    """A fixed random order of the pixels of an (H, W) grid: int (H * W,) flat indices.

    :func:`fit_color_gmms` subsamples a region as the first pixels of this order that fall in
    it, so one permutation per image serves every refit.
    """
    return np.random.default_rng(seed).permutation(shape[0] * shape[1])


def _count_distinct_rows(samples: np.ndarray) -> int:
    """Number of distinct feature vectors, via a 1-D projection (collisions only undercount)."""
    weights = np.array([1.0, 1e3 * np.pi, 1e6 * np.e])[: samples.shape[1]]
    return int(np.unique(samples.astype(np.float64) @ weights).size)


def _component_cap(samples: np.ndarray, max_components: int) -> int:
    """Largest usable number of GMM components for ``samples`` (N, C), N >= 1.

    Capped by the number of distinct samples and by ``N // MIN_SAMPLES_PER_COMPONENT`` so that
    every component has data to fit.
    """
    by_count = len(samples) // MIN_SAMPLES_PER_COMPONENT
    return max(1, min(max_components, by_count, _count_distinct_rows(samples)))


def _fit_gmm(
    samples: np.ndarray, max_components: int, seed: int, previous: GaussianMixture | None
) -> GaussianMixture:
    """Fit a full-covariance GMM to ``samples`` (N, C), N >= 1.

    With ``previous`` (the model of the last iteration, if it has no more components than the
    samples allow) EM continues from its parameters (scikit-learn's ``warm_start``: ``previous``
    itself is refitted and returned) for at most ``WARM_START_MAX_ITER`` steps, like GrabCut's
    one re-estimation per iteration; otherwise it starts from k-means++ seeding (no Lloyd
    iterations: EM refines the means anyway) and runs at most ``GMM_MAX_ITER`` steps.
    """
    n_components = _component_cap(samples, max_components)
    if previous is not None and previous.n_components <= n_components:
        gmm = previous.set_params(warm_start=True, max_iter=WARM_START_MAX_ITER)
    else:
        gmm = GaussianMixture(n_components=n_components, covariance_type="full",
                              reg_covar=REG_COVAR, random_state=seed, max_iter=GMM_MAX_ITER,
                              init_params="k-means++")
    with warnings.catch_warnings():
        # Capping EM steps is deliberate; the models are refitted in the next iteration anyway.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gmm.fit(samples)


def _subsample(
    features: np.ndarray, mask: np.ndarray, max_count: int, order: np.ndarray
) -> np.ndarray:
    """Features (N, C) of at most ``max_count`` pixels of bool ``mask`` (H, W): its first
    pixels in the flat pixel ``order`` (:func:`sampling_order`)."""
    flat_mask = mask.ravel()
    if np.count_nonzero(flat_mask) <= max_count:
        return features[mask]
    chosen = order[flat_mask[order]][:max_count]
    return features.reshape(-1, features.shape[-1])[chosen]


def fit_color_gmms(
    features: np.ndarray,
    fg_mask: np.ndarray,
    components: tuple[int, int],
    max_pixels: int,
    seed: int,
    previous: tuple[GaussianMixture, GaussianMixture] | None = None,
    bg_mask: np.ndarray | None = None,
    order: np.ndarray | None = None,
) -> tuple[GaussianMixture, GaussianMixture]:
    """Fit the lesion and skin colour GMMs.

    ``features``: float (H, W, C) colour features; ``fg_mask``: bool (H, W) pixels of the lesion
    model; ``bg_mask``: bool (H, W) pixels of the skin model (None = ``~fg_mask``; a trimap's
    certain skin leaves its unknown band out); each must have at least one pixel.
    ``components``: at most this many (lesion, skin) GMM components; ``previous``:
    ``(fg_gmm, bg_gmm)`` of the last iteration to warm-start from (refitted in place and
    returned), or None. Each region is subsampled to at most ``max_pixels`` pixels taken in the
    flat pixel ``order`` (:func:`sampling_order`; None = ``sampling_order(fg_mask.shape, seed)``);
    ``seed`` fixes the GMMs. Returns ``(fg_gmm, bg_gmm)``.
    """
    bg_mask = ~fg_mask if bg_mask is None else bg_mask
    if not fg_mask.any() or not bg_mask.any():
        raise ValueError("fg_mask must contain both lesion and skin pixels")
    order = sampling_order(fg_mask.shape, seed) if order is None else order
    fg_samples = _subsample(features, fg_mask, max_pixels, order)
    bg_samples = _subsample(features, bg_mask, max_pixels, order)
    fg_previous, bg_previous = previous if previous is not None else (None, None)
    # The samples are finite colour features, so scikit-learn's finiteness checks are skipped.
    with sklearn.config_context(assume_finite=True):
        return (
            _fit_gmm(fg_samples, components[0], seed, fg_previous),
            _fit_gmm(bg_samples, components[1], seed, bg_previous),
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
    with sklearn.config_context(assume_finite=True):
        log_ratio = fg_gmm.score_samples(palette_features) - bg_gmm.score_samples(palette_features)
    lesion_advantage = log_ratio[index]
    if certain_fg is not None:
        lesion_advantage = np.where(certain_fg, HARD_CAPACITY, lesion_advantage)
    if certain_bg is not None:
        lesion_advantage = np.where(certain_bg, -HARD_CAPACITY, lesion_advantage)
    return np.maximum(lesion_advantage, 0.0), np.maximum(-lesion_advantage, 0.0)
