"""Stage ``attribute``: Grad-CAM and SHAP maps for test images, one shard per job (paper 000 §2.3).

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
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from scipy.ndimage import gaussian_filter
from torch import nn
from tqdm import tqdm

from xaicut import CLASSES
from xaicut.attribution_store import AttributionMap, attribution_path, write_attribution
from xaicut.model import file_sha256, load_checkpoint
from xaicut.train import load_image_tensor

log = logging.getLogger(__name__)


def normalise_map(values: np.ndarray) -> np.ndarray:
    """Min-max scale a 2-D map to [0, 1] (float32); a constant map becomes all zeros."""
    values = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


class GradCamExplainer:
    """Grad-CAM (package ``grad-cam``) at one target layer of the classifier."""

    name = "gradcam"

    def __init__(self, model: nn.Module, target_layer: str) -> None:
        self.target_layer = target_layer
        self.cam = GradCAM(model=model, target_layers=[model.get_submodule(target_layer)])

    def params(self) -> dict:
        return {"target_layer": self.target_layer}

    def explain(self, batch: torch.Tensor, targets: Sequence[int]) -> np.ndarray:
        """Return Grad-CAM maps (B, h, w) in [0, 1] for ``targets`` (class indices)."""
        maps = self.cam(input_tensor=batch, targets=[ClassifierOutputTarget(int(t)) for t in targets])
        return np.stack([normalise_map(m) for m in maps])


class SingleLogit(nn.Module):
    """Expose one class logit of a classifier as a (B, 1) output (SHAP explains one target)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.target = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[:, self.target : self.target + 1]


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
                "background_size": self.background_size, "seed": self.seed}

    def explain(self, batch: torch.Tensor, targets: Sequence[int]) -> np.ndarray:
        """Return SHAP maps (B, h, w) in [0, 1]; images are explained one at a time."""
        maps = []
        for x, target in zip(batch, targets):
            self.wrapped.target = int(target)
            values = self.explainer.shap_values(x[None], nsamples=self.nsamples, rseed=self.seed)
            evidence = np.clip(np.asarray(values)[0, ..., 0].sum(axis=0), 0, None)
            maps.append(normalise_map(gaussian_filter(evidence, self.smoothing_sigma)))
        return np.stack(maps)


def background_batch(manifest: pd.DataFrame, size: int, n: int, seed: int) -> torch.Tensor:
    """Return ``n`` seeded random training images as the SHAP background (n, 3, size, size)."""
    train = manifest[manifest.split == "train"].sort_values("image_id")
    chosen = train.sample(n=min(n, len(train)), random_state=seed)
    return torch.stack([load_image_tensor(p, size) for p in chosen.image_path])


def build_explainers(model: nn.Module, methods: Sequence[str], cfg: dict,
                     manifest: pd.DataFrame, size: int, seed: int) -> list:
    """Instantiate the configured explainers (``cfg`` is the ``attribute`` config section)."""
    explainers = []
    for method in methods:
        if method == "gradcam":
            explainers.append(GradCamExplainer(model, cfg["target_layer"]))
        elif method == "shap":
            background = background_batch(manifest, size, cfg["shap_background_size"], seed)
            explainers.append(ShapExplainer(model, background, cfg["shap_nsamples"],
                                            cfg["shap_smoothing_sigma"], seed))
        else:
            raise ValueError(f"unknown attribution method {method!r}")
    return explainers


def attribute_shard(rows: pd.DataFrame, manifest: pd.DataFrame, checkpoint: str | os.PathLike,
                    out_dir: str | os.PathLike, cfg: dict, device: str, seed: int) -> list[Path]:
    """Write one attribution file per image of ``rows`` and method; return the paths written.

    Maps are computed at the model's input size and resized (bilinear) to each image's size.
    """
    torch.manual_seed(seed)
    model, meta = load_checkpoint(checkpoint, device)
    size, sha = meta["input_size"], file_sha256(checkpoint)
    explainers = build_explainers(model, cfg["methods"], cfg, manifest, size, seed)
    written = []
    batch_size = cfg["batch_size"]
    for start in tqdm(range(0, len(rows), batch_size), desc="attribute", unit="batch"):
        chunk = rows.iloc[start : start + batch_size]
        batch = torch.stack([load_image_tensor(p, size) for p in chunk.image_path]).to(device)
        with torch.no_grad():
            probs = torch.softmax(model(batch), 1).cpu().numpy()
        predicted = probs.argmax(1)
        targets = predicted if cfg["target"] == "predicted" else chunk.label.to_numpy()
        for explainer in explainers:
            maps = explainer.explain(batch, targets)
            for i, rec in enumerate(chunk.itertuples(index=False)):
                full = cv2.resize(maps[i], (int(rec.width), int(rec.height)), interpolation=cv2.INTER_LINEAR)
                item = AttributionMap(
                    image_id=rec.image_id, method=explainer.name, values=np.clip(full, 0, 1),
                    target_class=int(targets[i]), target_dx=CLASSES[int(targets[i])],
                    predicted_class=int(predicted[i]), predicted_probability=float(probs[i, predicted[i]]),
                    true_class=int(rec.label), checkpoint_sha256=sha, method_params=explainer.params())
                path = attribution_path(out_dir, rec.image_id, explainer.name)
                write_attribution(item, path)
                written.append(path)
    log.info("wrote %d attribution files to %s", len(written), out_dir)
    return written
