"""The classifier: a torchvision ResNet with optional CBAM (paper 000 §2.2 and §2.4).

CBAM (Woo et al. 2018) is inserted into every residual block after its last batch norm, before the
residual addition, with reduction ratio 4 and spatial kernel 5 in the paper. ImageNet weights come
only from a local file path; nothing is downloaded. A deep ensemble (``LogitEnsemble``) averages
the logits of independently seeded classifiers of one build.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
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


def read_pretrained_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a local weights file: a state dict, or a dict holding one under ``state_dict``.

    Loaded with ``weights_only=True`` (no code runs) and memory-mapped. The classifier head
    (``fc.*``) is dropped: the head is always new. Raises ``FileNotFoundError`` or ``ValueError``
    naming the file when it is missing, not loadable or not a mapping of names to tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: pretrained weights file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:
        raise ValueError(f"{path}: not a loadable torch weights file ({err})") from err
    state = payload.get("state_dict", payload) if isinstance(payload, dict) else payload
    if not isinstance(state, dict) or not state or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a state dict (a mapping of parameter names to tensors)")
    return {k: v for k, v in state.items() if not k.startswith("fc.")}


def check_pretrained_fit(state: dict[str, torch.Tensor], model: nn.Module, path: str | os.PathLike,
                         arch: str) -> None:
    """Raise ``ValueError`` naming ``path`` unless ``state`` has every body tensor of ``model``
    (an un-modified torchvision ``arch``) with the right shape and nothing else."""
    expected = {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}
    problems = [f"{k} has shape {tuple(v.shape)}, {arch} needs {tuple(expected[k].shape)}"
                for k, v in state.items() if k in expected and v.shape != expected[k].shape]
    problems += [f"missing {k}" for k in expected if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in expected]
    if problems:
        listed = "; ".join(problems[:5]) + (f"; ... {len(problems) - 5} more"
                                            if len(problems) > 5 else "")
        raise ValueError(f"{path}: weights do not fit {arch} "
                         f"({len(problems)} problem(s): {listed})")


def check_pretrained_weights(path: str | os.PathLike, arch: str) -> None:
    """Check a weights file against ``arch`` without allocating the model (meta device).

    Cheap enough to run when the workflow starts; raises as ``read_pretrained_state`` and
    ``check_pretrained_fit``.
    """
    state = read_pretrained_state(path)
    with torch.device("meta"):
        model = getattr(models, arch)(weights=None)
    check_pretrained_fit(state, model, path, arch)


def build_resnet(arch: str, pretrained_weights: str | os.PathLike | None = None) -> models.ResNet:
    """Build a torchvision ResNet ``arch`` without downloading anything (``weights=None``).

    ``pretrained_weights``: a local file with a state dict of ``arch`` whose body (all but
    ``fc.*``) is loaded after ``check_pretrained_fit``; the ``fc`` head keeps its random weights.
    Random initial weights come from torch's global generator.
    """
    model = getattr(models, arch)(weights=None)
    if pretrained_weights is not None:
        state = read_pretrained_state(pretrained_weights)
        check_pretrained_fit(state, model, pretrained_weights, arch)
        model.load_state_dict(state, strict=False)
    return model


def build_classifier(arch: str, num_classes: int = len(CLASSES), cbam: bool = False,
                     cbam_reduction: int = 4, cbam_kernel: int = 5,
                     pretrained_weights: str | os.PathLike | None = None) -> models.ResNet:
    """Build a ResNet classifier with ``num_classes`` outputs.

    ``pretrained_weights`` is a local file with a state dict of ``arch`` (e.g. torchvision's
    ImageNet weights, or an xaicut checkpoint); its body is loaded before the head is replaced and
    CBAM inserted (CBAM starts from scratch).
    """
    model = build_resnet(arch, pretrained_weights)
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


def read_checkpoint(path: str | os.PathLike, kind: str, device: str = "cpu",
                    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a file written by ``save_checkpoint``; return (state dict, metadata).

    ``kind`` is the metadata key that marks the model type (``arch`` for the classifier,
    ``encoder`` for the U-Net). Loaded with ``weights_only=True``. Raises ``ValueError`` naming
    the file when it is not loadable or lacks ``state_dict`` or ``kind``.
    """
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:
        raise ValueError(f"{path}: not a loadable checkpoint ({err})") from err
    if not isinstance(payload, dict) or "state_dict" not in payload or kind not in payload:
        raise ValueError(f"{path}: not an xaicut checkpoint (no state_dict/{kind})")
    return payload["state_dict"], {k: v for k, v in payload.items() if k != "state_dict"}


class LogitEnsemble(nn.Module):
    """A deep ensemble: classifiers of one build, trained from different seeds, whose logits
    (B, classes) are averaged; member ``i``'s submodules are named ``members.i.<name>``."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(x) for member in self.members]).mean(0)


def join_members(members: Sequence[nn.Module]) -> nn.Module:
    """The classifier a list of members forms: one member is itself, several a ``LogitEnsemble``
    (how ``save_checkpoint``'s state dict is laid out for ``members`` = ``len(members)``)."""
    return members[0] if len(members) == 1 else LogitEnsemble(members)


def member_layers(model: nn.Module, names: Sequence[str]) -> list[str]:
    """Submodule names of the layers ``names`` (e.g. ``layer4``) in ``model``: the layers
    themselves for one classifier, every member's for a ``LogitEnsemble``."""
    if isinstance(model, LogitEnsemble):
        return [f"members.{i}.{name}" for i in range(len(model.members)) for name in names]
    return list(names)


def load_checkpoint(path: str | os.PathLike,
                    device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Load a classifier checkpoint written by ``save_checkpoint``; return (model in eval mode,
    metadata). A checkpoint with ``members`` > 1 loads as a ``LogitEnsemble``. Raises
    ``ValueError`` naming the file when it is not an xaicut classifier checkpoint.
    """
    state, meta = read_checkpoint(path, "arch", device)
    model = join_members([build_classifier(meta["arch"], len(meta["classes"]), meta["cbam"],
                                           meta["cbam_reduction"], meta["cbam_kernel"])
                          for _ in range(meta.get("members", 1))])
    model.load_state_dict(state)
    return model.to(device).eval(), meta


def file_sha256(path: str | os.PathLike) -> str:
    """Return the hex SHA-256 of a file (checkpoint provenance in the attribution store)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
