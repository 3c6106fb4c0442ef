"""The classifier: a torchvision ResNet with optional CBAM (paper 000 §2.2 and §2.4).

CBAM (Woo et al. 2018) is inserted into every residual block after its last batch norm, before the
residual addition, with reduction ratio 4 and spatial kernel 5 in the paper. ImageNet weights come
only from a local file path; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision import models

from xaicut import CLASSES
from xaicut.io import atomic_path


class ChannelAttention(nn.Module):
    """Channel attention: shared MLP over global average- and max-pooled descriptors."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.mlp(torch.mean(x, dim=(2, 3), keepdim=True))
        peak = self.mlp(torch.amax(x, dim=(2, 3), keepdim=True))
        return x * torch.sigmoid(avg + peak)


class SpatialAttention(nn.Module):
    """Spatial attention: a convolution over channel-wise mean and max maps."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


class CBAM(nn.Sequential):
    """Convolutional Block Attention Module: channel then spatial attention."""

    def __init__(self, channels: int, reduction: int = 4, kernel_size: int = 5) -> None:
        super().__init__(ChannelAttention(channels, reduction), SpatialAttention(kernel_size))


def insert_cbam(model: models.ResNet, reduction: int, kernel_size: int) -> None:
    """Append CBAM to the last batch norm of every residual block of ``model`` (in place)."""
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        for block in layer:
            name = "bn3" if isinstance(block, models.resnet.Bottleneck) else "bn2"
            bn = getattr(block, name)
            setattr(block, name, nn.Sequential(bn, CBAM(bn.num_features, reduction, kernel_size)))


def build_classifier(arch: str, num_classes: int = len(CLASSES), cbam: bool = False,
                     cbam_reduction: int = 4, cbam_kernel: int = 5,
                     pretrained_weights: str | os.PathLike | None = None) -> models.ResNet:
    """Build a ResNet classifier with ``num_classes`` outputs.

    ``pretrained_weights`` is a local torchvision ImageNet ``state_dict`` file for ``arch``; it is
    loaded before the head is replaced and CBAM inserted (CBAM starts from scratch).
    """
    model = getattr(models, arch)(weights=None)
    if pretrained_weights is not None:
        path = Path(pretrained_weights)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: pretrained weights file not found")
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    if cbam:
        insert_cbam(model, cbam_reduction, cbam_kernel)
    # In-place ReLU breaks gradient hooks of attribution methods on residual blocks.
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return model


def save_checkpoint(model: nn.Module, path: str | os.PathLike, **meta: Any) -> None:
    """Save ``model``'s state dict with the build metadata ``meta`` atomically."""
    with atomic_path(path) as tmp:
        torch.save({"state_dict": model.state_dict(), **meta}, tmp)


def load_checkpoint(path: str | os.PathLike, device: str = "cpu") -> tuple[models.ResNet, dict[str, Any]]:
    """Load a checkpoint written by ``save_checkpoint``; return (model in eval mode, metadata).

    Raises ``ValueError`` naming the file when it is not an xaicut checkpoint.
    """
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:
        raise ValueError(f"{path}: not a loadable checkpoint ({err})") from err
    if not isinstance(payload, dict) or "state_dict" not in payload or "arch" not in payload:
        raise ValueError(f"{path}: not an xaicut checkpoint (no state_dict/arch)")
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    model = build_classifier(meta["arch"], len(meta["classes"]), meta["cbam"],
                             meta["cbam_reduction"], meta["cbam_kernel"])
    model.load_state_dict(payload["state_dict"])
    return model.to(device).eval(), meta


def file_sha256(path: str | os.PathLike) -> str:
    """Return the hex SHA-256 of a file (checkpoint provenance in the attribution store)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
