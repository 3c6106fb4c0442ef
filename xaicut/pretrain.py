"""Stage ``pretrain`` (optional): self-supervised SimCLR pretraining of the classifier's ResNet
body on the dataset's own images, without labels or downloads (paper 004 §3.2; Chen et al. 2020).

Input: the manifest (``docs/data-contracts.md`` §1); the train split's images are the training
set, the validation split's measure the contrastive loss for early stopping. Output (§3b): a
torchvision ResNet state dict without the ``fc`` head, which ``train`` loads as its initial
weights for the variants with ``train.init: self_supervised``, and the per-epoch history. The
epochs run in ``xaicut.epochs``, scored by :class:`ContrastiveObjective`.
"""

from __future__ import annotations

import logging
import os

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from torchvision.transforms import v2

from xaicut.epochs import (
    Objective,
    ResumeFile,
    seed_everything,
    seeded_loaders,
    train_epochs,
    train_then_validate,
    training_fingerprint,
)
from xaicut.io import atomic_path, read_rgb, write_csv
from xaicut.model import build_resnet
from xaicut.preprocess import normalise_input, resized_uint8

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ["train_loss", "val_loss"]
"""``pretrain`` history columns between ``epoch`` and ``lr`` (NT-Xent loss per pair)."""


def simclr_augmentation(size: int) -> v2.Compose:
    """SimCLR's random view of a resized uint8 image (3, size, size): crop, flips, rotation,
    strong colour jitter, greyscale and blur (Chen et al. 2020, with rotations added because
    dermoscopy has no canonical orientation). Draws from torch's global generator."""
    return v2.Compose([
        v2.RandomResizedCrop(size, scale=(0.2, 1.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomVerticalFlip(),
        v2.RandomApply([v2.RandomRotation(180)], p=0.5),
        v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        v2.RandomGrayscale(p=0.2),
        v2.RandomApply([v2.GaussianBlur(kernel_size=2 * (size // 20) + 1)], p=0.5),
    ])


class TwoViews(Dataset):
    """Images of a manifest table as pairs of independent random views (normalised float
    tensors (3, size, size)); labels are never read."""

    def __init__(self, table: pd.DataFrame, size: int) -> None:
        self.paths = table["image_path"].tolist()
        self.size = size
        self.augment = simclr_augmentation(size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = resized_uint8(read_rgb(self.paths[i]), self.size)
        return normalise_input(self.augment(image)), normalise_input(self.augment(image))


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's normalised temperature-scaled cross-entropy of paired projections (B, d) each:
    every view must pick its partner among the 2B - 1 other views. Returns the per-view losses
    (2B,)."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    similarity = z @ z.T / temperature
    similarity.fill_diagonal_(float("-inf"))
    n = len(z1)
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(similarity, partner, reduction="none")


class SimCLR(nn.Module):
    """ResNet body (``fc`` replaced by identity) and a two-layer projection head."""

    def __init__(self, arch: str, projection_dim: int) -> None:
        super().__init__()
        self.encoder = build_resnet(arch)
        features = self.encoder.fc.in_features
        self.encoder.fc = nn.Identity()
        self.projection = nn.Sequential(nn.Linear(features, features), nn.ReLU(),
                                        nn.Linear(features, projection_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(self.encoder(x))

    def body_state_dict(self) -> dict[str, torch.Tensor]:
        """The encoder's weights as a torchvision ResNet state dict without ``fc``."""
        return {k: v.detach().cpu().clone() for k, v in self.encoder.state_dict().items()}


class ContrastiveObjective(Objective):
    """Batches of view pairs (first views, second views), each (B, 3, size, size), scored by
    :func:`nt_xent_loss` of their projections at ``temperature``. A pass reports the mean
    ``loss`` per view; a batch of one pair is skipped (it has no negatives)."""

    min_batch = 2

    def __init__(self, temperature: float) -> None:
        self.temperature = temperature

    def forward(self, model: nn.Module, inputs: torch.Tensor,
                targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The projections (B, d) of the first views, then of the second (each view's partner)."""
        return model(inputs), model(targets)

    def loss(self, outputs: tuple[torch.Tensor, torch.Tensor],
             targets: torch.Tensor) -> tuple[torch.Tensor, int]:
        losses = nt_xent_loss(*outputs, self.temperature)
        return losses.sum(), len(losses)


def fit_simclr(model: SimCLR, train_table: pd.DataFrame, val_table: pd.DataFrame, cfg: dict,
               device: str, seed: int, resume: ResumeFile) -> tuple[SimCLR, pd.DataFrame]:
    """Train with AdamW and a cosine schedule; keep the epoch of the lowest validation loss.
    ``cfg``: the ``pretrain`` section. Returns (model, history with ``HISTORY_COLUMNS``)."""
    seed_everything(seed)
    train_loader, val_loader, generator = seeded_loaders(TwoViews, train_table, val_table,
                                                         cfg["input_size"], cfg["batch_size"], seed)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["lr"],
                                  weight_decay=cfg["weight_decay"])
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg["epochs"])
    one_epoch = train_then_validate(model, optimizer, train_loader, val_loader, device,
                                    ContrastiveObjective(cfg["temperature"]))
    return train_epochs(model, optimizer, generator, one_epoch, HISTORY_COLUMNS, cfg["epochs"],
                        cfg["early_stopping_patience"], resume, scheduler)


def pretrain_encoder(manifest_csv: str | os.PathLike, weights_path: str | os.PathLike,
                     history_path: str | os.PathLike, cfg: dict, arch: str, device: str,
                     seed: int, resume_path: str | os.PathLike | None = None) -> None:
    """Run the whole ``pretrain`` stage for ResNet ``arch``.

    Writes the body state dict (loadable as ``train.pretrained_weights``) to ``weights_path``
    and the history to ``history_path`` (contracts §3b); ``cfg`` is the ``pretrain`` config
    section. ``resume_path``: the per-epoch resume state while the stage runs.
    """
    manifest = pd.read_csv(manifest_csv)
    train_rows, val_rows = (manifest[manifest.split == s] for s in ("train", "val"))
    seed_everything(seed)  # the initial weights
    model = SimCLR(arch, cfg["projection_dim"])
    log.info("self-supervised pretraining of %s on %d unlabelled images (validation %d), %d px",
             arch, len(train_rows), len(val_rows), cfg["input_size"])
    fingerprint = training_fingerprint(manifest_csv, {**cfg, "arch": arch}, device, seed)
    resume = ResumeFile(resume_path, fingerprint)
    model, history = fit_simclr(model, train_rows, val_rows, cfg, device, seed, resume)
    with atomic_path(weights_path) as tmp:
        torch.save(model.body_state_dict(), tmp)
    write_csv(history, history_path)
    resume.remove()
