"""Graph cut: recovers a known shape from a noisy partial seed, degenerate inputs, real images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import REPO
from xaicut.color_models import _subsample, color_features, fit_color_gmms, sampling_order
from xaicut.graphcut import GraphCutParams, graph_cut_refine
from xaicut.grid_cut import GridCut
from xaicut.io import read_mask, read_rgb
from xaicut.masks import select_component
from xaicut.metrics import mask_metrics
from xaicut.pairwise_terms import contrast_weights, pairwise_weights

SAMPLE = REPO / "tests" / "data" / "ham10000_sample"


def sample_images() -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, truth) of the 5 real HAM10000 test images."""
    pairs = []
    for path in sorted((SAMPLE / "HAM10000_images_part_1").glob("*.jpg")):
        masks = SAMPLE / "HAM10000_segmentations_lesion_tschandl"
        pairs.append((read_rgb(path), read_mask(masks / f"{path.stem}_segmentation.png")))
    return pairs


def ellipse_scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A dark ellipse on a light textured background with RGB noise sigma 20: (image, truth)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:150, :200]
    truth = ((xx - 95) / 55.0) ** 2 + ((yy - 80) / 38.0) ** 2 < 1
    texture = 15 * np.sin(xx / 7.0)[..., None] * np.cos(yy / 11.0)[..., None]
    background = np.array([220, 175, 160]) + texture
    image = np.where(truth[..., None], [110, 70, 60], background)
    image = image + rng.normal(0, 20, (150, 200, 3))
    return np.clip(image, 0, 255).astype(np.uint8), truth


def noisy_seed(truth: np.ndarray) -> np.ndarray:
    """About 40 % of the shape, shifted, plus two false-positive blobs."""
    yy, xx = np.mgrid[: truth.shape[0], : truth.shape[1]]
    seed = ((xx - 85) / 32.0) ** 2 + ((yy - 85) / 27.0) ** 2 < 1
    seed |= (xx - 170) ** 2 + (yy - 20) ** 2 < 8**2
    seed |= (xx - 15) ** 2 + (yy - 130) ** 2 < 6**2
    return seed


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    return mask_metrics(prediction, truth)["dice"]


def test_noisy_seed_is_partial_and_shifted():
    _, truth = ellipse_scene()
    seed = noisy_seed(truth)
    assert 0.35 < np.count_nonzero(seed & truth) / np.count_nonzero(truth) < 0.45
    assert np.count_nonzero(seed & ~truth) > 0


@pytest.mark.parametrize("connectivity, working_size", [(8, 256), (4, 256), (8, 0), (8, 100)])
def test_recovers_shape_from_noisy_partial_seed(connectivity, working_size):
    image, truth = ellipse_scene()
    seed = noisy_seed(truth)
    params = GraphCutParams(connectivity=connectivity, working_size=working_size)
    result = graph_cut_refine(image, seed, params)
    assert result.status == "ok"
    assert result.mask.shape == truth.shape and result.mask.dtype == bool
    assert dice(result.mask, truth) >= 0.9
    assert dice(result.mask, truth) > dice(seed, truth) + 0.2
    assert 1 <= result.iterations <= params.max_iterations
    assert 0.0 <= result.changed_ratio <= 1.0


def test_iteration_converges_and_is_deterministic():
    image, truth = ellipse_scene(1)
    params = GraphCutParams(max_iterations=20, tolerance=1e-3)
    first = graph_cut_refine(image, noisy_seed(truth), params)
    second = graph_cut_refine(image, noisy_seed(truth), params)
    assert first.iterations < 20 and first.changed_ratio < 1e-3
    assert np.array_equal(first.mask, second.mask)
    assert (first.iterations, first.changed_ratio) == (second.iterations, second.changed_ratio)


def test_single_iteration_reports_first_change():
    image, truth = ellipse_scene()
    result = graph_cut_refine(image, noisy_seed(truth), GraphCutParams(max_iterations=1))
    assert result.iterations == 1
    # The first cut moves the seed a long way (60 % of the ellipse is missing from it).
    assert result.changed_ratio > 0.05


def test_dynamic_cut_matches_fresh_cut():
    """Re-solving with new terminal capacities on a used graph equals solving a fresh graph."""
    image, truth = ellipse_scene()
    pairwise = contrast_weights(color_features(image, "lab"), connectivity=8, weight=10.0)
    rng = np.random.default_rng(0)

    def caps(lesion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        advantage = np.where(lesion, 4.0, -4.0) + rng.normal(0, 6.0, lesion.shape)
        return np.maximum(advantage, 0), np.maximum(-advantage, 0)

    reused = GridCut(pairwise, truth.shape)
    first = reused.solve(*caps(noisy_seed(truth)))
    second_caps = caps(truth)
    second = reused.solve(*second_caps)
    assert np.mean(first != second) > 0.1
    assert np.array_equal(second, GridCut(pairwise, truth.shape).solve(*second_caps))


def test_subsample_takes_the_first_region_pixels_of_the_fixed_order():
    """Each region's fitting samples are its first pixels in one per-image permutation."""
    shape = (30, 40)
    order = sampling_order(shape, seed=3)
    assert np.array_equal(np.sort(order), np.arange(shape[0] * shape[1]))
    assert np.array_equal(order, sampling_order(shape, seed=3))
    features = np.arange(shape[0] * shape[1] * 3, dtype=np.float64).reshape(*shape, 3)
    mask = np.random.default_rng(0).random(shape) < 0.3
    samples = _subsample(features, mask, 50, order)
    expected = [p for p in order if mask.flat[p]][:50]
    assert np.array_equal(samples, features.reshape(-1, 3)[expected])
    assert np.array_equal(_subsample(features, mask, 10_000, order), features[mask])


def test_fit_color_gmms_default_order_is_the_seeded_one():
    """Without ``order`` the GMMs equal those fitted with ``sampling_order(shape, seed)``."""
    image, truth = ellipse_scene()
    features = color_features(image, "lab")
    implicit = fit_color_gmms(features, truth, (3, 3), 500, seed=4)
    explicit = fit_color_gmms(features, truth, (3, 3), 500, seed=4,
                              order=sampling_order(truth.shape, 4))
    for a, b in zip(implicit, explicit):
        assert np.allclose(a.means_, b.means_)
    fg_gmm, bg_gmm = implicit
    assert fg_gmm.means_[:, 0].mean() < bg_gmm.means_[:, 0].mean()  # the lesion is darker


def test_contrast_weights_are_small_across_edges():
    image, truth = ellipse_scene()
    (_, horizontal), *_ = contrast_weights(color_features(image, "lab"), connectivity=8,
                                           weight=10.0)
    crossing = truth[:, :-1] != truth[:, 1:]
    assert horizontal[:, :-1][crossing].mean() < 0.5 * horizontal[:, :-1][~crossing].mean()
    assert np.all(horizontal[:, -1] == 0)


def test_component_selection_modes():
    mask = np.zeros((100, 100), dtype=bool)
    mask[40:60, 40:60] = True  # central, 400 px
    mask[0:30, 0:30] = True  # corner, 900 px
    assert np.count_nonzero(select_component(mask, "largest")) == 900
    assert select_component(mask, "nearest_centre")[50, 50]
    assert np.count_nonzero(select_component(mask, "nearest_centre")) == 400
    assert np.array_equal(select_component(mask, "all"), mask)


def test_degenerate_inputs_give_documented_status():
    image, truth = ellipse_scene()
    params = GraphCutParams()
    empty = graph_cut_refine(image, np.zeros_like(truth), params)
    assert empty.status == "empty_seed" and not empty.mask.any() and empty.iterations == 0
    one_pixel = np.zeros_like(truth)
    one_pixel[10, 10] = True
    assert graph_cut_refine(image, one_pixel, params).status == "empty_seed"
    full = graph_cut_refine(image, np.ones_like(truth), params)
    assert full.status == "full_seed" and full.mask.all()
    constant = graph_cut_refine(np.full_like(image, 128), truth, params)
    assert constant.status == "constant_image" and np.array_equal(constant.mask, truth)


def test_cut_that_empties_a_region_falls_back_to_the_seed():
    """On structureless noise with an overwhelming smoothness term the cut labels everything
    alike."""
    image = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    small = np.zeros((120, 160), dtype=bool)
    small[10:20, 10:20] = True
    params = GraphCutParams(pairwise_weight=1e4)
    empty = graph_cut_refine(image, small, params)
    assert empty.status == "empty_cut" and np.array_equal(empty.mask, small)
    assert empty.iterations == 1
    full = graph_cut_refine(image, ~small, params)
    assert full.status == "full_cut" and np.array_equal(full.mask, ~small)


def test_invalid_inputs_raise():
    image, truth = ellipse_scene()
    with pytest.raises(ValueError, match="uint8"):
        graph_cut_refine(image.astype(float), truth, GraphCutParams())
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        graph_cut_refine(image[..., :2], truth, GraphCutParams())
    with pytest.raises(ValueError, match="seed_mask"):
        graph_cut_refine(image, truth[:-1], GraphCutParams())
    with pytest.raises(ValueError, match="bool"):
        graph_cut_refine(image, truth.astype(np.uint8), GraphCutParams())
    nan_seed = truth.astype(float)
    nan_seed[0, 0] = np.nan
    with pytest.raises(ValueError, match="bool"):
        graph_cut_refine(image, nan_seed, GraphCutParams())


@pytest.mark.parametrize(
    "bad", [{"connectivity": 6}, {"color_space": "hsv"}, {"keep_component": "first"},
            {"max_iterations": 0}, {"fg_components": 0}, {"pairwise_weight": -1.0},
            {"gradient_weight": -1.0}, {"texture_weight": -0.5}, {"texture_window": 4}]
)
def test_invalid_params_raise(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        GraphCutParams(**bad)


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="HAM10000 sample images not available")
def test_real_lesions_from_eroded_shifted_seeds():
    """On the 5 real HAM10000 images a degraded ground-truth seed is refined towards the truth."""
    dice_scores, seed_scores = [], []
    for image, truth in sample_images():
        seed = cv2.erode(truth.astype(np.uint8), np.ones((41, 41), np.uint8)) > 0
        seed = np.roll(seed, (12, -15), axis=(0, 1))
        result = graph_cut_refine(image, seed, GraphCutParams())
        assert result.status == "ok"
        dice_scores.append(dice(result.mask, truth))
        seed_scores.append(dice(seed, truth))
    assert len(dice_scores) == 5
    assert np.mean(dice_scores) >= 0.85, dice_scores
    assert sum(score >= 0.8 for score in dice_scores) >= 4, dice_scores
    assert np.mean(dice_scores) > np.mean(seed_scores) + 0.05


def test_hard_constraints_keep_their_label_even_against_the_colours():
    """Certain lesion on skin and certain skin inside the lesion survive cut and clean-up."""
    image, truth = ellipse_scene()
    certain_fg = np.zeros_like(truth)
    certain_fg[70:90, 80:110] = True  # inside the lesion ...
    certain_fg[70:90, 110:160] = True  # ... running out onto the skin
    certain_bg = np.zeros_like(truth)
    certain_bg[:10, :] = True
    certain_bg[60:66, 60:70] = True  # inside the lesion
    for working_size in (256, 100):
        result = graph_cut_refine(image, certain_fg, GraphCutParams(working_size=working_size),
                                  certain_fg=certain_fg, certain_bg=certain_bg)
        assert result.status == "ok"
        assert result.mask[certain_fg].all() and not result.mask[certain_bg].any()
        assert dice(result.mask, truth | certain_fg) >= 0.85


def test_trimap_seed_fits_skin_on_certain_background_only():
    """A trimap whose unknown band holds the lesion rim: the cut recovers the whole ellipse."""
    image, truth = ellipse_scene()
    certain_fg = cv2.erode(truth.astype(np.uint8), np.ones((31, 31), np.uint8)) > 0
    certain_bg = ~(cv2.dilate(truth.astype(np.uint8), np.ones((21, 21), np.uint8)) > 0)
    result = graph_cut_refine(image, certain_fg, GraphCutParams(max_iterations=1),
                              certain_fg=certain_fg, certain_bg=certain_bg)
    assert result.status == "ok" and dice(result.mask, truth) >= 0.93


def test_constraint_inputs_are_checked():
    image, truth = ellipse_scene()
    with pytest.raises(ValueError, match="overlap"):
        graph_cut_refine(image, truth, GraphCutParams(), certain_fg=truth, certain_bg=truth)
    with pytest.raises(ValueError, match="certain_bg"):
        graph_cut_refine(image, truth, GraphCutParams(), certain_bg=truth.astype(np.uint8))
    with pytest.raises(ValueError, match="certain_fg"):
        graph_cut_refine(image, truth, GraphCutParams(), certain_fg=truth[:-1])


def test_degenerate_inputs_with_constraints():
    image, truth = ellipse_scene()
    nothing = np.zeros_like(truth)
    empty = graph_cut_refine(image, nothing, GraphCutParams(), nothing, truth)
    assert empty.status == "empty_seed" and not empty.mask.any()
    full = graph_cut_refine(image, nothing, GraphCutParams(), ~nothing)
    assert full.status == "full_seed" and full.mask.all()
    flat = graph_cut_refine(np.full_like(image, 90), nothing, GraphCutParams(), truth, ~truth)
    assert flat.status == "constant_image" and np.array_equal(flat.mask, truth)


def test_gradient_and_texture_terms_lower_weights_across_the_edge():
    image, truth = ellipse_scene()
    features = color_features(image, "lab")
    crossing = truth[:, :-1] != truth[:, 1:]
    terms = {"connectivity": 8, "colour_weight": 0.0, "gradient_weight": 1.0,
             "texture_weight": 1.0, "texture_window": 5}
    (_, horizontal), *_ = pairwise_weights(image, features, **terms)
    assert horizontal[:, :-1][crossing].mean() < 0.8 * horizontal[:, :-1][~crossing].mean()
    assert np.all(horizontal[:, -1] == 0) and horizontal.max() <= 2.0
    colour_only = pairwise_weights(image, features, **{**terms, "colour_weight": 10.0,
                                                      "gradient_weight": 0.0,
                                                      "texture_weight": 0.0})
    reference = contrast_weights(features, connectivity=8, weight=10.0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(colour_only, reference))
    flat = np.full_like(image, 77)
    (_, flat_weights), *_ = pairwise_weights(flat, color_features(flat, "lab"), **terms)
    assert np.allclose(flat_weights[:, :-1], 2.0)


@pytest.mark.parametrize("weights", [(5.0, 0.0), (0.0, 5.0)])
def test_recovers_shape_with_gradient_or_texture_terms(weights):
    image, truth = ellipse_scene()
    params = GraphCutParams(gradient_weight=weights[0], texture_weight=weights[1])
    result = graph_cut_refine(image, noisy_seed(truth), params)
    assert result.status == "ok" and dice(result.mask, truth) >= 0.9
