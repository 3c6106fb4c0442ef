"""Stage ``attribute``: Grad-CAM-family and SHAP maps, one shard of images per job (paper 000 §2.3).

Input: the manifest, the checkpoint and (for SHAP's background) training images. Output: one HDF5
file per image and method (``docs/attribution-store.md``). Each explainer is a small class with one
job: turn a batch of input tensors and target classes into (B, h, w) maps at input resolution,
scaled to [0, 1]. The shard job loads the model once and runs images through it in batches.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import shap
import torch
from pytorch_grad_cam import (
    EigenCAM,
    GradCAM,
    GradCAMPlusPlus,
    LayerCAM,
    ScoreCAM,
    XGradCAM,
)
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from scipy.ndimage import gaussian_filter
from scipy.sparse.linalg import svds
from threadpoolctl import threadpool_limits
from torch import nn
from tqdm import tqdm

from xaicut.attribution_store import AttributionMap, attribution_path, write_attribution
from xaicut.faithfulness import DELETION_COLUMNS, deletion_scores
from xaicut.images import min_max_scale
from xaicut.model import file_sha256, load_checkpoint, member_layers
from xaicut.preprocess import load_image_tensor

log = logging.getLogger(__name__)


def normalise_map(values: np.ndarray) -> np.ndarray:
    """Min-max scale a 2-D map to [0, 1] (float32, ``xaicut.images.min_max_scale``) after setting
    NaN and +-inf to 0; a constant map becomes all zeros."""
    return min_max_scale(np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0))


def first_component(centred: np.ndarray, truncated: bool) -> np.ndarray:
    """First right singular vector (C,) of a centred (positions, C) matrix: ``scipy``'s truncated
    ``svds(k=1)`` (float64, seeded start vector) when ``truncated``, else the thin LAPACK SVD
    of ``numpy.linalg.svd``, whose first vector equals ``grad-cam``'s full-matrices one, sign
    included. A zero matrix, or one with a single row or column, takes the LAPACK path (ARPACK
    cannot)."""
    if truncated and min(centred.shape) > 1 and centred.any():
        return svds(centred.astype(np.float64), k=1, rng=0)[2][0]
    return np.linalg.svd(centred, full_matrices=False)[2][0]


def principal_projection(activations: np.ndarray, sign_correction: bool) -> np.ndarray:
    """Project each image's activations (B, C, h, w) on their first principal component: (B, h, w)
    float32, as ``grad-cam``'s ``get_2d_projection`` (NaN set to 0, centred over positions).

    With ``sign_correction`` (``get_2d_projection_with_sign_correction``, Seg-Eigen-CAM Eq. 13)
    the sign is flipped when the most negative value outweighs the most positive one, so the
    SVD's own sign does not matter and the truncated ``svds`` is used; without it the sign is
    LAPACK's, as in ``grad-cam``. BLAS runs on one thread: these SVDs are far too small to gain
    from threads and multithreaded BLAS made them about 50 times slower (``docs/performance.md``).
    """
    activations = np.where(np.isnan(activations), 0, activations)
    projections = []
    with threadpool_limits(1, user_api="blas"):
        for image in activations:
            centred = image.reshape(len(image), -1).T
            centred = centred - centred.mean(axis=0)
            projection = (centred @ first_component(centred, sign_correction)).reshape(
                image.shape[1:])
            if sign_correction and abs(projection.min()) > abs(projection.max()):
                projection = -projection
            projections.append(projection)
    return np.float32(projections)


class BoundedEigenCAM(EigenCAM):
    """``grad-cam``'s EigenCAM (projection of a layer's activations on their first principal
    component: class-agnostic, no gradients) with its SVD on one BLAS thread and thin
    (``principal_projection``); the maps are ``EigenCAM``'s."""

    sign_correction = False

    def get_cam_image(self, input_tensor, target_layer, target_category, activations, grads,
                      eigen_smooth):  # noqa: D102  (BaseCAM's signature)
        return principal_projection(activations, self.sign_correction)


class SignedEigenCAM(BoundedEigenCAM):
    """EigenCAM with the sign correction of Seg-Eigen-CAM (Chung & Ying 2025, Eq. 13).

    The SVD leaves the component's sign arbitrary and ``grad-cam`` keeps the positive part, so
    plain EigenCAM marks the skin instead of the lesion on many images; here the projection is
    flipped when its most negative value outweighs its most positive one (as ``grad-cam``'s
    ``get_2d_projection_with_sign_correction``, computed by ``principal_projection`` with a
    truncated SVD).
    """

    sign_correction = True


CAM_METHODS: dict[str, type[BaseCAM]] = {
    "gradcam": GradCAM,
    "gradcampp": GradCAMPlusPlus,
    "xgradcam": XGradCAM,
    "layercam": LayerCAM,
    "eigencam": BoundedEigenCAM,
    "eigencam_signed": SignedEigenCAM,
    "scorecam": ScoreCAM,
}
"""Class-activation methods of the ``grad-cam`` package, by config name."""

SHAP_METHODS = ("shap", "shap_partition")
"""``shap``: ``GradientExplainer`` (expected gradients); ``shap_partition``:
``PartitionExplainer``."""

METHODS = (*CAM_METHODS, *SHAP_METHODS)


def start_gradients_here(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
    """Forward hook of a target layer: when gradients are being recorded and none reach this
    layer (frozen parameters, an input without gradient), return its output as a detached leaf
    that requires grad, so that the backward stops at the first target layer reached; otherwise
    (a later target layer, SHAP's input gradients, ``torch.no_grad``) leave the output alone."""
    if torch.is_grad_enabled() and not output.requires_grad:
        return output.detach().requires_grad_(True)
    return output


class CamExplainer:
    """One class-activation method of ``grad-cam`` at one or more target layers of the classifier.

    Several layers (e.g. ``layer3`` and ``layer4``) are fused by ``grad-cam``'s multi-layer
    aggregation: each layer's map scaled to [0, 1] at input size, then averaged; for a deep
    ensemble (``LogitEnsemble``) every member's layers are averaged this way. ``aug_smooth``
    averages the maps of ``grad-cam``'s test-time augmentations (horizontal flip × brightness 0.9,
    1, 1.1: six passes). The model's parameters are frozen (``requires_grad_(False)``, in place).
    Gradient-based methods record gradients from the first target layer on only
    (``start_gradients_here``): the layers before it run without autograd, and the backward
    reaches neither the weights nor the input; the maps are those of ``grad-cam``'s classes.
    Methods without gradients (EigenCAM, ScoreCAM) run under ``torch.no_grad``. ScoreCAM runs its
    masked forward passes ``batch_size`` at a time.
    """

    def __init__(self, name: str, model: nn.Module, target_layers: str | Sequence[str],
                 batch_size: int, aug_smooth: bool = False) -> None:
        self.target_layers = ([target_layers] if isinstance(target_layers, str)
                              else list(target_layers))
        self.name, self.batch_size, self.aug_smooth = name, batch_size, aug_smooth
        layers = [model.get_submodule(name) for name in member_layers(model, self.target_layers)]
        model.requires_grad_(False)
        self.cam = CAM_METHODS[name](model=model, target_layers=layers)
        if self.cam.uses_gradients:
            for layer in layers:
                layer.register_forward_hook(start_gradients_here, prepend=True)
        if isinstance(self.cam, ScoreCAM):
            self.cam.batch_size = batch_size

    def params(self) -> dict:
        return {"target_layer": ",".join(self.target_layers), "aug_smooth": self.aug_smooth,
                "package": "grad-cam", "class": type(self.cam).__name__}

    def explain(self, batch: torch.Tensor, targets: Sequence[int]) -> np.ndarray:
        """Return maps (B, h, w) in [0, 1] at input size for ``targets`` (class indices)."""
        with torch.set_grad_enabled(self.cam.uses_gradients):
            maps = self.cam(input_tensor=batch,
                            targets=[ClassifierOutputTarget(int(t)) for t in targets],
                            aug_smooth=self.aug_smooth)
        return np.stack([normalise_map(m) for m in maps])


class SingleLogit(nn.Module):
    """Expose one class logit of a classifier as a (B, 1) output (SHAP explains one target)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.target = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[:, self.target : self.target + 1]


def positive_evidence(values: np.ndarray, smoothing_sigma: float = 0.0) -> np.ndarray:
    """Per-pixel map from SHAP values (C, h, w) or (h, w, C): channel sum, positive part
    (evidence for the target), optional Gaussian smoothing (pixels), scaled to [0, 1]."""
    channel_axis = 0 if values.shape[0] == 3 else -1
    evidence = np.clip(values.sum(axis=channel_axis), 0, None)
    if smoothing_sigma > 0:
        evidence = gaussian_filter(evidence, smoothing_sigma)
    return normalise_map(evidence)


class ShapExplainer:
    """SHAP expected gradients (``shap.GradientExplainer``) with a training-image background.

    The per-pixel map is the channel sum of SHAP values, positive part (evidence for the target),
    Gaussian-smoothed with ``smoothing_sigma`` pixels and scaled to [0, 1].
    """

    name = "shap"

    def __init__(self, model: nn.Module, background: torch.Tensor, nsamples: int,
                 smoothing_sigma: float, seed: int) -> None:
        self.wrapped = SingleLogit(model)
        self.explainer = shap.GradientExplainer(self.wrapped, background)
        self.nsamples, self.smoothing_sigma, self.seed = nsamples, smoothing_sigma, seed
        self.background_size = len(background)

    def params(self) -> dict:
        return {"nsamples": self.nsamples, "smoothing_sigma": self.smoothing_sigma,
                "background_size": self.background_size, "seed": self.seed,
                "class": "GradientExplainer"}

    def explain(self, batch: torch.Tensor, targets: Sequence[int]) -> np.ndarray:
        """Return SHAP maps (B, h, w) in [0, 1]; images are explained one at a time."""
        maps = []
        for x, target in zip(batch, targets):
            self.wrapped.target = int(target)
            values = self.explainer.shap_values(x[None], nsamples=self.nsamples, rseed=self.seed)
            maps.append(positive_evidence(np.asarray(values)[0, ..., 0], self.smoothing_sigma))
        return np.stack(maps)


class PartitionShapExplainer:
    """SHAP Owen values (``shap.PartitionExplainer``) with a blurring image masker.

    Hidden regions of the image are replaced by a blurred copy (``blur`` px kernel at input size);
    ``max_evals`` model calls per image, ``batch_size`` at a time. The map is the positive part
    of the channel sum, scaled to [0, 1] (the masker's hierarchy already makes it blocky-smooth).
    """

    name = "shap_partition"

    def __init__(self, model: nn.Module, input_size: int, max_evals: int, blur: int,
                 batch_size: int, seed: int) -> None:
        self.wrapped = SingleLogit(model)
        self.device = next(model.parameters()).device
        masker = shap.maskers.Image(f"blur({blur},{blur})", (input_size, input_size, 3))
        self.explainer = shap.PartitionExplainer(self.logit, masker, seed=seed)
        self.max_evals, self.blur, self.batch_size, self.seed = max_evals, blur, batch_size, seed

    def logit(self, images: np.ndarray) -> np.ndarray:
        """Target logit (N, 1) of channels-last float images (N, h, w, 3)."""
        batch = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
        with torch.no_grad():
            return self.wrapped(batch.float().to(self.device)).cpu().numpy()

    def params(self) -> dict:
        return {"max_evals": self.max_evals, "blur": self.blur, "seed": self.seed,
                "class": "PartitionExplainer"}

    def explain(self, batch: torch.Tensor, targets: Sequence[int]) -> np.ndarray:
        """Return Partition SHAP maps (B, h, w) in [0, 1]; images are explained one at a time."""
        maps = []
        for x, target in zip(batch, targets):
            self.wrapped.target = int(target)
            image = x.permute(1, 2, 0).cpu().numpy()[None]
            values = self.explainer(image, max_evals=self.max_evals, batch_size=self.batch_size,
                                    silent=True).values
            maps.append(positive_evidence(values[0, ..., 0]))
        return np.stack(maps)


def background_batch(manifest: pd.DataFrame, size: int, n: int, seed: int,
                     color_constancy: float | None = None) -> torch.Tensor:
    """Return ``n`` seeded random training images as the SHAP background (n, 3, size, size),
    read as the classifier sees them (``color_constancy``:
    ``xaicut.preprocess.read_model_image``)."""
    train = manifest[manifest.split == "train"].sort_values("image_id")
    chosen = train.sample(n=min(n, len(train)), random_state=seed)
    return torch.stack([load_image_tensor(p, size, color_constancy) for p in chosen.image_path])


def build_explainers(model: nn.Module, methods: Sequence[str], cfg: dict,
                     manifest: pd.DataFrame, size: int, seed: int,
                     color_constancy: float | None = None) -> list:
    """Instantiate the configured explainers (``cfg`` is the ``attribute`` config section;
    ``color_constancy``: the classifier's, for SHAP's background images)."""
    explainers = []
    for method in methods:
        if method in CAM_METHODS:
            explainers.append(CamExplainer(method, model, cfg["target_layer"], cfg["batch_size"],
                                           cfg["aug_smooth"]))
        elif method == "shap":
            background = background_batch(manifest, size, cfg["shap_background_size"], seed,
                                          color_constancy)
            explainers.append(ShapExplainer(model, background, cfg["shap_nsamples"],
                                            cfg["shap_smoothing_sigma"], seed))
        elif method == "shap_partition":
            explainers.append(PartitionShapExplainer(model, size, cfg["shap_max_evals"],
                                                     cfg["shap_partition_blur"],
                                                     cfg["batch_size"], seed))
        else:
            raise ValueError(f"unknown attribution method {method!r}; known: {', '.join(METHODS)}")
    return explainers


def attribute_shard(rows: pd.DataFrame, manifest: pd.DataFrame, checkpoint: str | os.PathLike,
                    out_dir: str | os.PathLike, cfg: dict, device: str, seed: int) -> pd.DataFrame:
    """Write one attribution file per image of ``rows`` and method into ``out_dir``.

    Maps are computed at the model's input size on the images as the classifier sees them (its
    checkpoint's ``color_constancy``), in batches of ``cfg["batch_size"]``, and resized (bilinear)
    to each image's size. Returns the deletion-faithfulness table of the shard
    (``xaicut.faithfulness``; empty when ``cfg["deletion_fractions"]`` is empty).
    """
    for stale in Path(out_dir).glob(".*.h5"):  # temporary files of a killed earlier run
        stale.unlink()
    torch.manual_seed(seed)
    model, meta = load_checkpoint(checkpoint, device)
    model.requires_grad_(False)  # no explainer needs weight gradients
    size, sha = meta["input_size"], file_sha256(checkpoint)
    color_constancy = meta.get("color_constancy")  # absent from checkpoints before the option
    explainers = build_explainers(model, cfg["methods"], cfg, manifest, size, seed, color_constancy)
    generator = torch.Generator().manual_seed(seed)
    batch_size, deletion = cfg["batch_size"], []
    for start in tqdm(range(0, len(rows), batch_size), desc="attribute", unit="batch"):
        chunk = rows.iloc[start : start + batch_size]
        batch = torch.stack([load_image_tensor(p, size, color_constancy)
                             for p in chunk.image_path]).to(device)
        with torch.no_grad():
            probs = torch.softmax(model(batch), 1).cpu().numpy()
        predicted = probs.argmax(1)
        labels = chunk.label.to_numpy()
        # target "label": an unlabelled image (external dataset, label -1) explains the prediction
        targets = (predicted if cfg["target"] == "predicted"
                   else np.where(labels >= 0, labels, predicted))
        maps = {}
        for explainer in explainers:
            maps[explainer.name] = explainer.explain(batch, targets)
            for i, rec in enumerate(chunk.itertuples(index=False)):
                full = cv2.resize(maps[explainer.name][i], (int(rec.width), int(rec.height)),
                                  interpolation=cv2.INTER_LINEAR)
                item = AttributionMap(
                    image_id=rec.image_id, method=explainer.name, values=np.clip(full, 0, 1),
                    target_class=int(targets[i]), target_dx=meta["classes"][int(targets[i])],
                    predicted_class=int(predicted[i]),
                    predicted_probability=float(probs[i, predicted[i]]), true_class=int(rec.label),
                    checkpoint_sha256=sha, method_params=explainer.params())
                write_attribution(item, attribution_path(out_dir, rec.image_id, explainer.name))
        if cfg["deletion_fractions"]:
            deletion.append(deletion_scores(model, batch, probs, list(chunk.image_id), maps,
                                            cfg["deletion_fractions"], generator))
    log.info("wrote %d images x %d methods to %s", len(rows), len(explainers), out_dir)
    return pd.concat(deletion) if deletion else pd.DataFrame(columns=list(DELETION_COLUMNS))
