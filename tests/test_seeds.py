"""Seeds: vignette, Otsu seed, seed cleaning, trimaps, seed modes, degenerate maps, real images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from test_graphcut import SAMPLE, dice, ellipse_scene, sample_images
from xaicut import seeds
from xaicut.graphcut import GraphCutParams, graph_cut_refine
from xaicut.io import read_mask, read_rgb, write_image
from xaicut.seeds import (
    SEED_MODES,
    ImageEvidence,
    Seed,
    SeedParams,
    build_seed,
    clean_seed,
    evidence_seed,
    fuse_maps,
    otsu_seed,
    sanitise_map,
    simulated_map,
    trimap_from_map,
    vignette_mask,
)
from xaicut.segment import otsu_masks, segment_images


def vignetted_scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ellipse_scene` seen through a round field of view: black corners, soft rim."""
    image, truth = ellipse_scene(seed)
    yy, xx = np.mgrid[:150, :200]
    radius = np.hypot(yy - 74.5, xx - 99.5)
    fade = np.clip((112 - radius) / 8.0, 0.05, 1.0)[..., None]
    return (image * fade).astype(np.uint8), truth


def map_from_truth(truth: np.ndarray, grid: int = 7, noise: float = 0.15,
                   seed: int = 0) -> np.ndarray:
    """A coarse attribution map: truth area-pooled to grid x grid, Gaussian noise, bilinear up."""
    return simulated_map(truth, grid, noise, np.random.default_rng(seed))


# --- vignette and Otsu seed -------------------------------------------------------------------


def test_vignette_mask_finds_dark_corners_but_not_the_lesion():
    image, truth = vignetted_scene()
    vignette = vignette_mask(image)
    assert vignette.dtype == bool and vignette.shape == truth.shape
    assert vignette[0, 0] and vignette[-1, -1] and vignette[0, -1] and vignette[-1, 0]
    assert not (vignette & truth).any()
    assert not vignette[75, 100]
    assert not vignette_mask(ellipse_scene()[0]).any()


def test_otsu_seed_finds_the_dark_ellipse_and_skips_the_vignette():
    for image, truth in (ellipse_scene(), vignetted_scene()):
        lesion = otsu_seed(image)
        assert lesion.dtype == bool and lesion.shape == truth.shape
        assert dice(lesion, truth) >= 0.9
        assert not (lesion & vignette_mask(image)).any()


def test_otsu_seed_of_a_flat_image_is_empty():
    assert not otsu_seed(np.full((60, 80, 3), 140, dtype=np.uint8)).any()


def test_the_otsu_baseline_is_written_apart_from_the_graph_cuts(tmp_path):
    """``otsu_masks`` (rule otsu, once per run) writes the Otsu lesion; ``segment_images`` (rules
    segment and segment_image_prior) writes only the graph cuts, seeded by the same lesion."""
    image, truth = vignetted_scene()
    write_image(image, tmp_path / "ISIC_0000001.png")
    manifest = pd.DataFrame({"image_id": ["ISIC_0000001"],
                             "image_path": [str(tmp_path / "ISIC_0000001.png")]})
    otsu_masks(manifest, ["ISIC_0000001"], tmp_path / "otsu", SeedParams())
    lesion = read_mask(tmp_path / "otsu" / "ISIC_0000001.png")
    assert (lesion == otsu_seed(read_rgb(tmp_path / "ISIC_0000001.png"))).all()
    assert dice(lesion, truth) >= 0.9
    table = segment_images(manifest, ["ISIC_0000001"], lambda _: {}, {"graphcut_otsu": "otsu"},
                           {"graphcut_otsu": tmp_path / "cut"}, SeedParams(),
                           GraphCutParams(max_iterations=2))
    assert list(table.stage) == ["graphcut_otsu"] and list(table.seed_status) == ["ok"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["cut", "otsu"]
    assert dice(read_mask(tmp_path / "cut" / "ISIC_0000001.png"), truth) >= 0.9


def count_calls(monkeypatch, name: str) -> list[int]:
    """Count the calls of ``xaicut.seeds.<name>`` (one entry per call)."""
    calls: list[int] = []
    original = getattr(seeds, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(seeds, name, counted)
    return calls


def test_the_otsu_baseline_honours_vignette_off(tmp_path, monkeypatch):
    """``seeding.vignette: false``: rule otsu's lesion is Otsu over every pixel, no vignette
    detected (it used to detect one anyway)."""
    image, _ = vignetted_scene()
    write_image(image, tmp_path / "ISIC_0000001.png")
    manifest = pd.DataFrame({"image_id": ["ISIC_0000001"],
                             "image_path": [str(tmp_path / "ISIC_0000001.png")]})
    vignettes = count_calls(monkeypatch, "vignette_mask")
    otsu_masks(manifest, ["ISIC_0000001"], tmp_path / "off", SeedParams(vignette=False))
    assert vignettes == []
    written = read_mask(tmp_path / "off" / "ISIC_0000001.png")
    image = read_rgb(tmp_path / "ISIC_0000001.png")
    assert (written == otsu_seed(image, np.zeros(image.shape[:2], dtype=bool))).all()
    otsu_masks(manifest, ["ISIC_0000001"], tmp_path / "on", SeedParams())
    assert len(vignettes) == 1
    assert (read_mask(tmp_path / "on" / "ISIC_0000001.png") == otsu_seed(image)).all()


@pytest.mark.parametrize("params", [SeedParams(), SeedParams(vignette=False)])
def test_one_image_evidence_gives_every_mode_the_seed_build_seed_gives(params):
    """Shared by all modes, the vignette and the Otsu lesion give bit-identical seeds to those
    each mode computes on its own (also on a flat image and on all-zero maps)."""
    image, truth = vignetted_scene()
    flat = np.full(image.shape, 140, dtype=np.uint8)
    zeros = {"gradcam": np.zeros(truth.shape)}
    for picture, maps in ((image, scene_maps(truth)), (image, zeros), (flat, scene_maps(truth))):
        evidence = ImageEvidence(picture, params)
        for mode in SEED_MODES:
            shared, alone = evidence_seed(mode, maps, evidence), build_seed(mode, maps, picture,
                                                                           params)
            assert shared.status == alone.status, mode
            for name in ("initial", "certain_fg", "certain_bg"):
                assert np.array_equal(getattr(shared, name), getattr(alone, name)), (mode, name)
    assert not evidence.lesion.flags.writeable   # shared: no seed may change it


def test_segment_computes_the_image_evidence_once_per_image(tmp_path, monkeypatch):
    """Every seed mode of an image: one vignette and one Otsu lesion; a mode that reads no
    Otsu lesion (trimap) computes none."""
    image, truth = vignetted_scene()
    ids = ["ISIC_0000001", "ISIC_0000002"]
    for image_id in ids:
        write_image(image, tmp_path / f"{image_id}.png")
    manifest = pd.DataFrame({"image_id": ids,
                             "image_path": [str(tmp_path / f"{i}.png") for i in ids]})
    vignettes, lesions = count_calls(monkeypatch, "vignette_mask"), count_calls(monkeypatch,
                                                                                "otsu_seed")
    stages = {f"graphcut_{mode}": mode for mode in SEED_MODES}
    table = segment_images(manifest, ids, lambda _: scene_maps(truth), stages,
                           {s: tmp_path / s for s in stages}, SeedParams(),
                           GraphCutParams(max_iterations=2))
    assert len(table) == len(ids) * len(SEED_MODES) and set(table.seed_status) == {"ok"}
    assert len(vignettes) == len(lesions) == len(ids)
    segment_images(manifest, ids, lambda _: scene_maps(truth), {"graphcut": "trimap"},
                   {"graphcut": tmp_path / "trimap"}, SeedParams(),
                   GraphCutParams(max_iterations=2))
    assert len(vignettes) == 2 * len(ids) and len(lesions) == len(ids)
    assert len(list((tmp_path / "trimap").glob("*.png"))) == len(ids)


# --- seed cleaning ----------------------------------------------------------------------------


def test_clean_seed_drops_small_components_and_keeps_the_most_central():
    mask = np.zeros((100, 100), dtype=bool)
    mask[45:55, 45:55] = True  # central, 100 px
    mask[0:30, 0:30] = True  # corner, 900 px (larger, but off centre)
    mask[48:51, 30:33] = True  # near the centre but only 9 px
    cleaned, status = clean_seed(mask, min_area=50)
    assert np.count_nonzero(cleaned) == 100 and cleaned[50, 50] and status == "ok"
    assert np.count_nonzero(clean_seed(mask, min_area=500)[0]) == 900
    small, status = clean_seed(mask, min_area=1000)   # none that large: the most central, any size
    assert np.count_nonzero(small) == 100 and status == "small_seed"
    empty, status = clean_seed(np.zeros((10, 10), dtype=bool), min_area=0)
    assert not empty.any() and status == "empty_seed"


def test_clean_seed_never_keeps_vignette_pixels():
    mask = np.zeros((100, 100), dtype=bool)
    mask[40:60, 40:60] = True
    vignette = np.zeros_like(mask)
    vignette[40:60, 40:45] = True
    cleaned, _ = clean_seed(mask, min_area=10, vignette=vignette)
    assert not (cleaned & vignette).any() and np.count_nonzero(cleaned) == 300


# --- trimaps and maps -------------------------------------------------------------------------


def test_trimap_from_map():
    values = np.array([[0.0, 0.35, 0.5], [0.65, 0.9, 0.36]])
    trimap = trimap_from_map(values, 0.35, 0.65)
    assert trimap.dtype == np.int8
    assert trimap.tolist() == [[0, 0, -1], [1, 1, -1]]
    with pytest.raises(ValueError, match="low < high"):
        trimap_from_map(values, 0.6, 0.4)
    with pytest.raises(ValueError, match="finite"):
        trimap_from_map(np.array([[np.nan]]), 0.35, 0.65)


def test_sanitise_and_fuse_maps():
    values, bad = sanitise_map(np.array([[np.nan, np.inf], [-np.inf, 2.0]]))
    assert bad and values.tolist() == [[0.0, 0.0], [0.0, 1.0]]
    assert not sanitise_map(np.zeros((2, 2)))[1]
    a, b = np.array([[0.2, 0.6]]), np.array([[0.4, 0.2]])
    assert np.allclose(fuse_maps([a, b], "mean"), [[0.3, 0.4]])
    assert np.allclose(fuse_maps([a, b], "min"), [[0.2, 0.2]])
    assert np.allclose(fuse_maps([a, b], "mean", "always"), [[0.0, 1.0]])
    assert np.allclose(fuse_maps([a, b], "mean", "if_needed", high=0.65), [[0.0, 1.0]])
    assert np.allclose(fuse_maps([a, b], "mean", "if_needed", high=0.4), [[0.3, 0.4]])
    assert not fuse_maps([np.full((2, 2), 0.7)], "mean", "always").any()


# --- build_seed -------------------------------------------------------------------------------


def scene_maps(truth: np.ndarray) -> dict[str, np.ndarray]:
    return {"gradcam": map_from_truth(truth, seed=1), "shap": map_from_truth(truth, 14, seed=2)}


@pytest.mark.parametrize("mode", SEED_MODES)
def test_every_mode_gives_a_consistent_seed(mode):
    image, truth = vignetted_scene()
    seed = build_seed(mode, scene_maps(truth), image, SeedParams())
    assert isinstance(seed, Seed) and seed.status == "ok"
    for mask in (seed.initial, seed.certain_fg, seed.certain_bg):
        assert mask.dtype == bool and mask.shape == truth.shape
    assert not (seed.certain_fg & seed.certain_bg).any()
    assert not (seed.certain_fg & ~seed.initial).any()
    vignette = vignette_mask(image)
    assert not (seed.initial & vignette).any()  # the vignette never seeds lesion
    assert np.count_nonzero(seed.initial & truth) > 0.9 * np.count_nonzero(seed.initial)
    trimap = seed.trimap
    assert trimap.dtype == np.int8 and set(np.unique(trimap)) <= {-1, 0, 1}
    if mode in ("and", "otsu"):  # soft seeds
        assert not seed.certain_fg.any() and not seed.certain_bg.any()
    else:
        assert seed.certain_bg[vignette].all()  # and it is certain skin in trimap modes
        assert not (seed.initial & seed.certain_bg).any()
        if mode != "consensus":  # consensus initialises the lesion GMM with the whole Otsu lesion
            assert np.array_equal(seed.certain_fg, seed.initial)
        # The noisy coarse maps miss by a few boundary pixels at most.
        assert np.count_nonzero(seed.certain_fg & ~truth) <= 0.01 * np.count_nonzero(truth)
        assert np.count_nonzero(seed.certain_bg & truth) <= 0.01 * np.count_nonzero(truth)


def test_trimap_otsu_rejects_a_spurious_map_blob_off_centre():
    image, truth = ellipse_scene()
    values = map_from_truth(truth, noise=0.0)
    values[5:35, 150:195] = 1.0  # a hot spot on skin, far from the centre
    seed = build_seed("trimap_otsu", {"gradcam": values}, image)
    assert seed.status == "ok" and not seed.certain_fg[5:35, 150:195].any()


def test_consensus_keeps_a_misplaced_map_from_constraining_the_cut():
    """A map whose hot spot sits on skin (a wrong classifier) must not become certain lesion,
    nor push the lesion into certain skin: the cut then follows the image evidence."""
    image, truth = ellipse_scene()
    values = np.zeros(truth.shape)
    values[0:35, 0:60] = 1.0  # on skin, top left; the lesion is central
    seed = build_seed("consensus", {"gradcam": values}, image)
    assert seed.status == "otsu_only" and not seed.certain_fg.any()
    assert dice(seed.initial, truth) > 0.9
    both = values.copy()
    both[truth] = 1.0  # the map also covers the lesion: certain lesion only there
    seed = build_seed("consensus", {"gradcam": both}, image)
    assert seed.status == "ok" and not (seed.certain_fg & ~truth).any()
    assert not (seed.certain_bg & truth).any()
    result = graph_cut_refine(image, seed.initial, GraphCutParams(), seed.certain_fg,
                              seed.certain_bg)
    assert result.status == "ok" and dice(result.mask, truth) > 0.9


def test_consensus_uses_the_map_alone_when_the_image_has_no_otsu_lesion():
    image, truth = ellipse_scene()
    flat = np.full_like(image, 120)
    seed = build_seed("consensus", {"gradcam": map_from_truth(truth, noise=0.0)}, flat)
    assert seed.status == "map_only" and seed.certain_fg.any()
    assert np.count_nonzero(seed.certain_fg & truth) > 0.9 * np.count_nonzero(seed.certain_fg)
    zeros = {"gradcam": np.zeros(truth.shape)}
    assert build_seed("consensus", zeros, flat).status == "empty_seed"


@pytest.mark.parametrize("mode", ["and", "trimap", "trimap_otsu", "consensus"])
def test_nonfinite_map_values_are_replaced_and_reported(mode):
    image, truth = ellipse_scene()
    maps = scene_maps(truth)
    maps["shap"][:10, :10] = np.nan
    maps["gradcam"][-5:, -5:] = np.inf
    seed = build_seed(mode, maps, image)
    assert seed.status == "nonfinite_map" and seed.initial.any()
    assert not seed.initial[:10, :10].any()


def test_flat_and_full_maps():
    image, truth = ellipse_scene()
    zeros = {"gradcam": np.zeros(truth.shape), "shap": np.zeros(truth.shape)}
    for mode in ("and", "trimap"):
        seed = build_seed(mode, zeros, image)
        assert seed.status == "empty_seed" and not seed.initial.any()
    otsu_fallback = build_seed("trimap_otsu", zeros, image)
    assert otsu_fallback.status == "otsu_only" and dice(otsu_fallback.initial, truth) > 0.9
    flat_image = np.full_like(image, 120)
    assert build_seed("trimap_otsu", zeros, flat_image).status == "empty_seed"
    assert build_seed("otsu", {}, flat_image).status == "empty_seed"
    ones = {"gradcam": np.ones(truth.shape)}
    full = build_seed("trimap", ones, image, SeedParams(rescale="never"))
    assert full.status == "ok" and full.certain_fg.all()
    cut = graph_cut_refine(image, full.initial, GraphCutParams(), full.certain_fg)
    assert cut.status == "full_seed" and cut.mask.all()


def test_small_map_blob_is_kept_when_nothing_reaches_min_area():
    image, truth = ellipse_scene()
    values = np.zeros(truth.shape)
    values[75:80, 90:95] = 1.0
    seed = build_seed("trimap", {"gradcam": values}, image)
    assert seed.status == "small_seed" and np.count_nonzero(seed.certain_fg) == 25


def test_invalid_seed_inputs_raise():
    image, truth = ellipse_scene()
    with pytest.raises(ValueError, match="mode"):
        build_seed("xor", scene_maps(truth), image)
    with pytest.raises(ValueError, match="shape"):
        build_seed("trimap", {"gradcam": np.zeros((10, 10))}, image)
    with pytest.raises(ValueError, match="at least one"):
        build_seed("trimap", {}, image)
    with pytest.raises(ValueError, match="uint8"):
        build_seed("otsu", {}, image.astype(float))
    with pytest.raises(ValueError, match="H, W, 3"):
        build_seed("otsu", {}, image[..., 0])
    with pytest.raises(ValueError, match="low"):
        SeedParams(low=0.7, high=0.3)
    with pytest.raises(ValueError, match="fusion"):
        SeedParams(fusion="max")


def test_trimap_seed_hard_constraints_hold_after_the_cut():
    image, truth = vignetted_scene()
    seed = build_seed("trimap_otsu", scene_maps(truth), image)
    result = graph_cut_refine(image, seed.initial, GraphCutParams(), seed.certain_fg,
                              seed.certain_bg)
    assert result.status == "ok"
    assert result.mask[seed.certain_fg].all() and not result.mask[seed.certain_bg].any()
    assert dice(result.mask, truth) >= 0.9


# --- real images ------------------------------------------------------------------------------


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="HAM10000 sample images not available")
def test_otsu_seed_on_real_images():
    """The blue-channel Otsu seed alone on the 5 sample images (measured: docs/segmentation.md)."""
    scores = [dice(otsu_seed(image), truth) for image, truth in sample_images()]
    assert len(scores) == 5
    assert np.mean(scores) >= 0.8, scores
    assert sum(score >= 0.8 for score in scores) >= 4, scores


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="HAM10000 sample images not available")
def test_trimap_modes_beat_and_mode_on_real_images_with_coarse_maps():
    """Coarse 7x7 maps with noise sigma 0.15 (fixed seeds): trimap seeds + cut beat AND + cut.

    Measured on these maps: docs/segmentation.md, column "5 sample images, simulated 7×7".
    """
    params = GraphCutParams()
    scores = {"and": [], "trimap_otsu": [], "consensus": []}
    for index, (image, truth) in enumerate(sample_images()):
        maps = {"gradcam": map_from_truth(truth, seed=10 + index),
                "shap": map_from_truth(truth, seed=20 + index)}
        for mode, values in scores.items():
            seed = build_seed(mode, maps, image)
            result = graph_cut_refine(image, seed.initial, params, seed.certain_fg,
                                      seed.certain_bg)
            values.append(dice(result.mask, truth))
    for mode in ("trimap_otsu", "consensus"):
        assert np.mean(scores[mode]) > np.mean(scores["and"]), scores
        assert np.mean(scores[mode]) >= 0.85, scores
