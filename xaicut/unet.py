"""Stage ``unet``: the supervised baseline of paper 000 Table 2, a U-Net with a ResNet encoder.

Unlike every other stage it learns from the ground-truth masks: trained on the manifest's train
split, early-stopped and selected on the validation split, scored by ``evaluate`` as stage
``unet`` on the same test shards as the label-only stages. Input: the manifest
(``docs/data-contracts.md`` §1). Output (§4c): the checkpoint, the per-epoch history and one 0/255
mask per test image at the image's size. Images go through ``xaicut.preprocess`` (the
classifier's resizing and normalisation); masks are resized with nearest neighbour. The epochs run
in ``xaicut.epochs``, scored by :class:`SegmentationObjective`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from xaicut.epochs import (
    Objective,
    PassTotals,
    ResumeFile,
    ema_model,
    seed_everything,
    seeded_loaders,
    selected_epoch,
    train_epochs,
    train_then_validate,
    training_fingerprint,
)
from xaicut.io import read_mask, write_csv, write_mask
from xaicut.model import build_resnet, read_checkpoint, save_checkpoint
from xaicut.preprocess import ImageTable, load_image_tensor
from xaicut.shards import shard_rows

log = logging.getLogger(__name__)

ENCODERS = ("resnet18", "resnet34")
ENCODER_CHANNELS = (64, 64, 128, 256, 512)
"""Output channels of the stem (1/2 resolution) and of layer1..layer4 (1/4..1/32) of both
encoders (basic-block ResNets)."""
DECODER_CHANNELS = (256, 128, 64, 32, 16)
"""Output channels of the decoder blocks at 1/16, 1/8, 1/4, 1/2 and full resolution."""
HISTORY_COLUMNS = ["train_loss", "train_dice", "val_loss", "val_dice"]
"""``unet_history.csv`` columns between ``epoch`` and ``lr`` (contracts §4c)."""


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    """A 3×3 convolution (same size) with batch norm and ReLU."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


class DecoderBlock(nn.Module):
    """Upsample (nearest) to the skip's size, concatenate the skip, then two conv-BN-ReLU."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(conv_bn_relu(in_channels + skip_channels, out_channels),
                                   conv_bn_relu(out_channels, out_channels))

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None, size: torch.Size) -> torch.Tensor:
        """``skip`` None: no skip connection, upsample to ``size`` (height, width) instead."""
        x = F.interpolate(x, size=skip.shape[-2:] if skip is not None else size, mode="nearest")
        return self.convs(x if skip is None else torch.cat([x, skip], 1))


class UNet(nn.Module):
    """U-Net on a torchvision ResNet encoder (``ENCODERS``), built with ``weights=None``.

    Input: (N, 3, H, W) normalised images; output: (N, 1, H, W) lesion logits. The decoder joins
    the encoder's stem and layer1..layer3 outputs through skip connections.
    ``pretrained_weights``: a local state-dict file of the encoder (``xaicut.model.build_resnet``).
    """

    def __init__(self, encoder: str = "resnet18",
                 pretrained_weights: str | os.PathLike | None = None) -> None:
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f"U-Net encoder {encoder!r} must be one of {ENCODERS}")
        resnet = build_resnet(encoder, pretrained_weights)
        self.stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu)
        self.pool = resnet.maxpool
        self.layers = nn.ModuleList([resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4])
        skips = [*reversed(ENCODER_CHANNELS[:-1]), 0]
        ins = [ENCODER_CHANNELS[-1], *DECODER_CHANNELS[:-1]]
        self.decoder = nn.ModuleList([DecoderBlock(i, s, o)
                                      for i, s, o in zip(ins, skips, DECODER_CHANNELS)])
        self.head = nn.Conv2d(DECODER_CHANNELS[-1], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [self.stem(x)]
        h = self.pool(features[0])
        for layer in self.layers:
            h = layer(h)
            features.append(h)
        h = features.pop()
        for block, skip in zip(self.decoder, [*reversed(features), None]):
            h = block(h, skip, x.shape[-2:])
        return self.head(h)


class MaskTable(Dataset):
    """Manifest rows as (image tensor (3, size, size), target tensor (1, size, size) of 0/1 read
    from ``mask_path``); subclasses change :meth:`read_target`."""

    def __init__(self, table: pd.DataFrame, size: int) -> None:
        self.images = table["image_path"].tolist()
        self.masks = table["mask_path"].tolist()
        self.size = size

    def __len__(self) -> int:
        return len(self.images)

    @staticmethod
    def read_target(path: str) -> np.ndarray:
        """float32 (H, W) target of one row: the mask as 0/1."""
        return read_mask(path).astype(np.float32)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        target = cv2.resize(self.read_target(self.masks[i]), (self.size, self.size),
                            interpolation=cv2.INTER_NEAREST)
        return load_image_tensor(self.images[i], self.size), torch.from_numpy(target)[None]


IGNORE = -1.0
"""Target value of a pixel left out of the loss and of the Dice (a pseudo-label's uncertain band,
``xaicut.student``); ground-truth masks have none."""


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image loss (N,): mean pixel BCE plus soft Dice loss (1 - soft Dice, smoothed by 1),
    both over the pixels whose target is not ``IGNORE``."""
    valid = (target != IGNORE).float()
    target = target.clamp(min=0.0)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    bce = (bce * valid).sum((1, 2, 3)) / valid.sum((1, 2, 3)).clamp(min=1.0)
    p = torch.sigmoid(logits) * valid
    overlap = (p * target).sum((1, 2, 3))
    soft_dice = (2 * overlap + 1) / (p.sum((1, 2, 3)) + (target * valid).sum((1, 2, 3)) + 1)
    return bce + 1 - soft_dice


def hard_dice(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image Dice (N,) of ``logits > 0`` against ``target > 0.5`` over the pixels whose
    target is not ``IGNORE``; empty vs empty is 1."""
    valid = target != IGNORE
    p, t = (logits > 0) & valid, target > 0.5
    overlap = (p & t).sum((1, 2, 3))
    total = p.sum((1, 2, 3)) + t.sum((1, 2, 3))
    dice = 2 * overlap / total.clamp(min=1)
    return torch.where(total > 0, dice, torch.ones_like(dice))


def random_flips(x: torch.Tensor, y: torch.Tensor,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip each image with its mask left-right and, independently, up-down, each with
    probability 1/2 drawn from ``generator``."""
    flips = torch.rand(2, len(x), generator=generator) < 0.5
    for dim, chosen in zip((3, 2), flips):
        x = torch.where(chosen[:, None, None, None], x.flip(dim), x)
        y = torch.where(chosen[:, None, None, None], y.flip(dim), y)
    return x, y


class SegmentationObjective(Objective):
    """Batches of (images, targets (N, 1, H, W) of 0 / 1 / ``IGNORE``) scored by
    :func:`segmentation_loss` on the logits (N, 1, H, W). A pass reports the mean ``loss`` and
    ``dice`` (:func:`hard_dice`) per image."""

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, int]:
        losses = segmentation_loss(outputs, targets)
        return losses.sum(), len(losses)

    def measure(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        return {"dice": hard_dice(outputs, targets).sum().item()}

    def summary(self, totals: PassTotals) -> dict[str, float]:
        return {**super().summary(totals),
                "dice": totals.measures.get("dice", 0.0) / max(totals.samples, 1)}


def make_optimizer(model: nn.Module, cfg: dict) -> torch.optim.Optimizer:
    """Adam, or SGD with ``cfg["momentum"]``, at learning rate ``cfg["lr"]`` (``unet`` section)."""
    if cfg["optimizer"] == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"])
    return torch.optim.Adam(model.parameters(), lr=cfg["lr"])


def fit_unet(model: UNet, train_table: pd.DataFrame, val_table: pd.DataFrame, cfg: dict,
             device: str, seed: int, resume: ResumeFile,
             dataset: type[MaskTable] = MaskTable) -> tuple[UNet, pd.DataFrame]:
    """Train on ``train_table``'s masks, early-stop on ``val_table``'s loss; return (the model of
    the lowest validation loss, history with ``HISTORY_COLUMNS``). ``cfg``: the ``unet`` section
    (or a section with the same keys; with ``ema_decay`` the weights' moving average is
    validated, selected and returned); ``dataset``: how rows become (image, target) pairs.
    Shuffling and flips draw from one generator seeded with ``seed``; a saved ``resume`` state
    is continued from."""
    # a lone last image cannot train batch norm on the encoder's 1x1 bottleneck (small inputs)
    lone = len(train_table) % cfg["batch_size"] == 1
    train_loader, val_loader, generator = seeded_loaders(dataset, train_table, val_table,
                                                         cfg["input_size"], cfg["batch_size"], seed,
                                                         drop_last=lone)
    model.to(device)
    optimizer = make_optimizer(model, cfg)
    flips = partial(random_flips, generator=generator) if cfg["flip"] else None
    averaged = ema_model(model, optimizer, cfg["ema_decay"]) if cfg["ema_decay"] else None
    one_epoch = train_then_validate(model, optimizer, train_loader, val_loader, device,
                                    SegmentationObjective(), transform=flips,
                                    validated=None if averaged is None else averaged.module)
    return train_epochs(model, optimizer, generator, one_epoch, HISTORY_COLUMNS, cfg["epochs"],
                        cfg["early_stopping_patience"], resume, averaged=averaged)


def train_unet(manifest_csv: str | os.PathLike, model_path: str | os.PathLike,
               history_path: str | os.PathLike, cfg: dict, device: str, seed: int,
               resume_path: str | os.PathLike | None = None) -> None:
    """Run the whole ``train_unet`` stage: build, fit on the ground-truth masks of the train
    split (early-stopped on the validation split's), save checkpoint and history.

    Writes the checkpoint to ``model_path`` and the history to ``history_path`` (contracts
    §4c); ``cfg`` is the ``unet`` config section. ``resume_path``: where the per-epoch resume
    state lives while the stage runs (deleted when it finishes).
    """
    manifest = pd.read_csv(manifest_csv)
    masked = manifest[manifest.has_mask]  # images without a ground-truth mask cannot teach it
    train_rows, val_rows = (masked[masked.split == s] for s in ("train", "val"))
    log.info("training U-Net (%s) on the masks of %d images, validating on %d", cfg["encoder"],
             len(train_rows), len(val_rows))
    fit_and_save(train_rows, val_rows, model_path, history_path, cfg, device, seed,
                 ResumeFile(resume_path, training_fingerprint(manifest_csv, cfg, device, seed)))


def fit_and_save(train_rows: pd.DataFrame, val_rows: pd.DataFrame, model_path: str | os.PathLike,
                 history_path: str | os.PathLike, cfg: dict, device: str, seed: int,
                 resume: ResumeFile, dataset: type[MaskTable] = MaskTable,
                 initial: str | os.PathLike | None = None) -> None:
    """Build a :class:`UNet` (weights seeded with ``seed``, or those of the checkpoint
    ``initial`` to fine-tune it), :func:`fit_unet` it on the rows (``image_path``,
    ``mask_path``), save the checkpoint of the lowest validation loss to ``model_path`` and
    the history to ``history_path``, then remove the resume state."""
    seed_everything(seed)  # the decoder's (and without pretrained weights the encoder's) weights
    model = (UNet(cfg["encoder"], cfg["pretrained_weights"]) if initial is None
             else load_unet(initial)[0])
    model, history = fit_unet(model, train_rows, val_rows, cfg, device, seed, resume, dataset)
    best = selected_epoch(history)
    save_checkpoint(model, model_path, encoder=cfg["encoder"], input_size=cfg["input_size"],
                    epoch=int(best.epoch), val_loss=float(best.val_loss),
                    val_dice=float(best.val_dice))
    write_csv(history, history_path)
    resume.remove()


def load_unet(path: str | os.PathLike, device: str = "cpu") -> tuple[UNet, dict]:
    """Load a ``train_unet`` checkpoint; return (model in eval mode, metadata). Raises
    ``ValueError`` naming the file when it is not an xaicut U-Net checkpoint."""
    state, meta = read_checkpoint(path, "encoder", device)
    model = UNet(meta["encoder"])
    model.load_state_dict(state)
    return model.to(device).eval(), meta


def flip_averaged_probability(model: UNet, x: torch.Tensor) -> torch.Tensor:
    """Lesion probability (N, H, W) of images ``x`` (N, 3, H, W): the mean of the sigmoid outputs
    on the images and their left-right, up-down and both-ways flips, each flipped back."""
    views = [torch.sigmoid(model(x.flip(dims)))[:, 0].flip([d - 1 for d in dims])
             for dims in ((), (3,), (2,), (2, 3))]
    return torch.stack(views).mean(0)


@torch.no_grad()
def predict_probabilities(model: UNet, table: pd.DataFrame, size: int, batch_size: int,
                          device: str,
                          flip_average: bool = False) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (image id, float32 lesion probability of the image's height × width) for every row
    of ``table`` (manifest rows): sigmoid outputs at ``size``², resized bilinearly;
    ``flip_average``: averaged over four flips (:func:`flip_averaged_probability`)."""
    model.eval()
    loader = DataLoader(ImageTable(table, size), batch_size=batch_size)
    rows = table[["image_id", "width", "height"]].itertuples(index=False)
    for x, _ in loader:
        x = x.to(device)
        probabilities = (flip_averaged_probability(model, x) if flip_average
                         else torch.sigmoid(model(x))[:, 0]).cpu().numpy()
        for p, row in zip(probabilities, rows):  # probabilities first: zip takes no extra row
            yield row.image_id, cv2.resize(p, (row.width, row.height),
                                           interpolation=cv2.INTER_LINEAR)


def predict_masks(model: UNet, table: pd.DataFrame, size: int, batch_size: int,
                  device: str) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (image id, boolean mask of the image's height × width): the probabilities of
    :func:`predict_probabilities` above 0.5."""
    for image_id, probability in predict_probabilities(model, table, size, batch_size, device):
        yield image_id, probability > 0.5


def segment_unet_shard(manifest: pd.DataFrame, model_path: str | os.PathLike, shard: str,
                       shard_size: int, out_dir: str | os.PathLike, batch_size: int,
                       device: str) -> None:
    """Write ``{out_dir}/{image_id}.png`` (0/255, image size) for every image of ``shard``
    (``xaicut.shards.shard_rows``); the folder exists afterwards even for an empty shard."""
    model, meta = load_unet(model_path, device)
    rows = shard_rows(manifest, shard, shard_size)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for image_id, mask in tqdm(predict_masks(model, rows, meta["input_size"], batch_size, device),
                               desc="unet", unit="img", total=len(rows)):
        write_mask(mask, Path(out_dir) / f"{image_id}.png")
    log.info("U-Net masks of %d images of %s written to %s", len(rows), shard, out_dir)
