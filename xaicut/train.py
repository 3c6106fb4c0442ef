"""Stage ``train``: fit the ResNet(+CBAM) classifier on class labels only (paper 000 §2.2).

Input: dataset B (``docs/data-contracts.md`` §2). Each member of a variant's deep ensemble
(``train.members``, one by default) is trained on its own seed by ``train_member``: its best
checkpoint on the validation monitor and its per-epoch history. ``ensemble_and_report`` joins
the members into the variant's classifier and writes the test-split classification report in
paper 000 Table 1 form (§3). The recipe (optimiser, schedule, sampling, augmentation, weight
averaging, epoch selection) comes from the ``train`` config section.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import random
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import torch
from sklearn.metrics import balanced_accuracy_score, classification_report
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler
from torchvision.transforms import v2
from tqdm import tqdm

from xaicut.classes import class_names
from xaicut.io import atomic_path, read_rgb, write_csv
from xaicut.model import build_classifier, join_members, load_checkpoint, save_checkpoint

log = logging.getLogger(__name__)

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225])[:, None, None]

HISTORY_COLUMNS = ["train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_balanced_accuracy"]
"""``history.csv`` columns between ``epoch`` and ``lr`` (contracts §3)."""


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch random generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resized_uint8(image: np.ndarray, size: int) -> torch.Tensor:
    """Resize an RGB uint8 image (h, w, 3) to ``size``×``size``: uint8 tensor (3, size, size)."""
    resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(resized.transpose(2, 0, 1).copy())


def shades_of_gray(image: np.ndarray, power: float) -> np.ndarray:
    """Shades-of-Gray colour constancy (Finlayson & Trezzi 2004) of an RGB uint8 image (h, w, 3).

    The illuminant is estimated per channel as the Minkowski ``power``-mean of its values (1 =
    grey world, ∞ = max-RGB; 6 in dermoscopy, Barata et al. 2015) and divided out, so that it
    becomes neutral grey of the same norm. Returns uint8 (h, w, 3), clipped to 0-255.
    """
    values = image.astype(np.float32)
    illuminant = np.power(np.mean(np.power(values, power), axis=(0, 1)), 1 / power)
    illuminant = illuminant / max(float(np.linalg.norm(illuminant)), 1e-6)
    return np.clip(values / (illuminant * np.sqrt(3)), 0, 255).astype(np.uint8)


def read_model_image(path: str | os.PathLike, color_constancy: float | None = None) -> np.ndarray:
    """Read an RGB uint8 image as the classifier sees it: with Shades-of-Gray colour constancy
    of power ``color_constancy`` (``train.color_constancy``; None = as stored)."""
    image = read_rgb(path)
    return image if color_constancy is None else shades_of_gray(image, color_constancy)


def normalise_input(image: torch.Tensor) -> torch.Tensor:
    """Scale a uint8 (3, h, w) tensor to [0, 1] and normalise it with ImageNet statistics."""
    return (image.float() / 255.0 - IMAGENET_MEAN) / IMAGENET_STD


def to_input_tensor(image: np.ndarray, size: int) -> torch.Tensor:
    """Resize an RGB uint8 image to ``size``×``size`` and normalise it: float32 (3, size, size)."""
    return normalise_input(resized_uint8(image, size))


def load_image_tensor(path: str, size: int, color_constancy: float | None = None) -> torch.Tensor:
    """Read a JPEG and return the model input tensor (the one place images are resized);
    ``color_constancy``: as ``read_model_image``."""
    return to_input_tensor(read_model_image(path, color_constancy), size)


def online_augmentation(size: int) -> v2.Compose:
    """Random view of a resized uint8 image (3, size, size) drawn anew every epoch.

    Dermoscopy has no canonical orientation, so flips and any rotation are label-preserving; the
    crop keeps at least half the image (the lesion is usually central) and colour changes stay
    small because lesion colour is diagnostic. Draws from torch's global generator.
    """
    return v2.Compose([
        v2.RandomResizedCrop(size, scale=(0.5, 1.0), ratio=(0.8, 1.25), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomVerticalFlip(),
        v2.RandomApply([v2.RandomRotation(180)], p=0.5),
        v2.ColorJitter(brightness=0.1, contrast=0.1, saturation=0.1),
    ])


class ImageTable(Dataset):
    """Rows of a manifest/dataset-B table as (input tensor, label) pairs; ``transform`` (on the
    resized uint8 tensor, before normalisation) makes a random view per access;
    ``color_constancy``: as ``read_model_image``."""

    def __init__(self, table: pd.DataFrame, size: int,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 color_constancy: float | None = None) -> None:
        self.paths = table["image_path"].tolist()
        self.labels = table["label"].astype(int).tolist()
        self.size = size
        self.transform = transform
        self.color_constancy = color_constancy

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = resized_uint8(read_model_image(self.paths[i], self.color_constancy), self.size)
        if self.transform is not None:
            image = self.transform(image)
        return normalise_input(image), self.labels[i]


@dataclass(frozen=True)
class EpochStats:
    """Mean loss, accuracy and balanced accuracy (mean recall of the classes present) over one
    pass of a loader."""

    loss: float
    accuracy: float
    balanced_accuracy: float


def run_epoch(model: nn.Module, loader: DataLoader, device: str,
              optimizer: torch.optim.Optimizer | None = None,
              criterion: nn.Module | None = None) -> EpochStats:
    """Run one pass over ``loader``; train when ``optimizer`` is given, else evaluate.

    ``criterion`` (summed over the batch) is the training loss, plain cross-entropy by default;
    the reported loss is the criterion's mean per image.
    """
    training = optimizer is not None
    model.train(training)
    criterion = criterion or nn.CrossEntropyLoss(reduction="sum")
    total_loss, truth, predicted = 0.0, [], []
    with torch.set_grad_enabled(training):
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = criterion(logits, y)
            if training:
                optimizer.zero_grad()
                (loss / len(y)).backward()
                optimizer.step()
            total_loss += loss.item()
            truth.append(y.cpu())
            predicted.append(logits.argmax(1).cpu())
    if not truth:
        return EpochStats(0.0, 0.0, 0.0)
    truth, predicted = torch.cat(truth).numpy(), torch.cat(predicted).numpy()
    with warnings.catch_warnings():  # predictions of classes absent from ``truth``
        warnings.simplefilter("ignore", UserWarning)
        balanced = balanced_accuracy_score(truth, predicted)
    return EpochStats(total_loss / len(truth), float((truth == predicted).mean()), float(balanced))


class ResumeFile:
    """The training state after the last finished epoch, on disk, so a killed job resumes.

    Holds model, optimizer, scheduler, best-so-far weights, history and every random state the
    next epoch draws from (torch's global generator and the shuffling generator), so a resumed
    run continues exactly as the uninterrupted one would have. Written atomically after each
    epoch; ``fingerprint`` (settings and data) must match or the file is ignored. ``path`` None
    disables resuming.
    """

    def __init__(self, path: str | os.PathLike | None, fingerprint: str) -> None:
        self.path = Path(path) if path is not None else None
        self.fingerprint = fingerprint

    def load(self) -> dict | None:
        """Return the saved state, or None when absent, unreadable or from other settings."""
        if self.path is None or not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as err:  # a foreign or damaged file: start over, never crash
            log.warning("%s: not a readable resume state (%s); training from epoch 1", self.path, err)
            return None
        if not isinstance(state, dict) or state.get("fingerprint") != self.fingerprint:
            log.warning("%s: saved under other settings or data; training from epoch 1", self.path)
            return None
        return state

    def save(self, state: dict) -> None:
        """Write ``state`` (plus the fingerprint) atomically."""
        if self.path is not None:
            with atomic_path(self.path) as tmp:
                torch.save({**state, "fingerprint": self.fingerprint}, tmp)

    def remove(self) -> None:
        """Delete the file once the stage's outputs are written."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def class_balanced_sampler(labels: Sequence[int], generator: torch.Generator) -> WeightedRandomSampler:
    """Draw ``len(labels)`` indices per epoch with replacement, each class equally often on
    average (weight 1 / class count per image)."""
    labels = np.asarray(labels)
    counts = np.bincount(labels)
    weights = torch.as_tensor(1.0 / counts[labels], dtype=torch.double)
    return WeightedRandomSampler(weights, len(labels), replacement=True, generator=generator)


def seeded_loaders(dataset: Callable[..., Dataset], train_table: pd.DataFrame,
                   val_table: pd.DataFrame, size: int, batch_size: int, seed: int,
                   balanced: bool = False, transform: Callable | None = None,
                   drop_last: bool = False,
                   ) -> tuple[DataLoader, DataLoader, torch.Generator]:
    """Return (training loader, validation loader in table order, the training loader's generator).

    The training loader shuffles (``balanced``: samples classes equally often,
    ``class_balanced_sampler``) with a generator seeded with ``seed``, and drops an incomplete
    last batch when ``drop_last``. ``dataset(table, size)`` builds each loader's dataset;
    ``transform`` is passed to the training one only.
    """
    generator = torch.Generator().manual_seed(seed)
    train_data = dataset(train_table, size) if transform is None else dataset(train_table, size, transform)
    sampler = class_balanced_sampler(train_table["label"].astype(int), generator) if balanced else None
    train_loader = DataLoader(train_data, batch_size=batch_size, shuffle=sampler is None,
                              sampler=sampler, generator=generator, drop_last=drop_last)
    return train_loader, DataLoader(dataset(val_table, size), batch_size=batch_size), generator


def selection_loss(monitor: str, epochs):
    """How an epoch ranks for selection, lower is better: ``monitor`` ``last`` ranks later epochs
    first, columns named ``*accuracy`` are negated, losses stay. ``epochs``: one epoch's values
    (a mapping with ``epoch``) or the history table; returns a float or a column."""
    if monitor == "last":
        return -epochs["epoch"]
    return -epochs[monitor] if monitor.endswith("accuracy") else epochs[monitor]


def train_epochs(model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator,
                 one_epoch: Callable[[], dict[str, float]], columns: list[str], epochs: int,
                 patience: int, resume: ResumeFile,
                 scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
                 monitor: str = "val_loss",
                 averaged: AveragedModel | None = None) -> tuple[nn.Module, pd.DataFrame]:
    """Train epoch by epoch with early stopping; return (best model, history).

    ``one_epoch`` trains and validates once and returns at least ``val_loss``, ``monitor`` and the
    ``columns`` (history columns between ``epoch`` and ``lr``). The best epoch has the lowest
    ``selection_loss(monitor, ...)``. ``generator`` is every random source besides
    torch's global one (shuffling, augmentation). The state is saved to ``resume`` after every
    epoch and a saved state is continued from, so a killed job ends as an uninterrupted one.
    Early stopping: ``patience`` epochs without a better ``monitor``. ``scheduler`` steps once
    per epoch (``ReduceLROnPlateau`` on the validation loss). ``averaged``: a running average of
    ``model``'s weights (``ema_model``); when given, its weights are the ones selected and returned.
    """
    selected = model if averaged is None else averaged.module
    state = {"epoch": 0, "best_loss": float("inf"), "best_epoch": 0, "best_state": None,
             "history": [], "stopped": False}
    saved = resume.load()
    if saved is not None:
        model.load_state_dict(saved["model"])
        if averaged is not None:
            averaged.load_state_dict(saved["averaged"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["torch_rng"])
        generator.set_state(saved["generator"])
        state = {k: saved[k] for k in state}
        log.info("resuming after epoch %d from %s", state["epoch"], resume.path)
    first = epochs + 1 if state["stopped"] else state["epoch"] + 1
    for epoch in tqdm(range(first, epochs + 1), desc="train", unit="epoch",
                      initial=first - 1, total=epochs):
        lr = optimizer.param_groups[0]["lr"]
        stats = one_epoch()
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(stats["val_loss"])
        elif scheduler is not None:
            scheduler.step()
        state["history"].append([epoch, *(stats[c] for c in columns), lr])
        log.info("epoch %d: %s | lr %.4g", epoch,
                 " ".join(f"{c} {stats[c]:.4f}" for c in columns), lr)
        score = selection_loss(monitor, {"epoch": epoch, **stats})
        if score < state["best_loss"]:
            state.update(best_loss=score, best_epoch=epoch,
                         best_state=copy.deepcopy(selected.state_dict()))
        state.update(epoch=epoch, stopped=epoch - state["best_epoch"] >= patience)
        optional = {} if scheduler is None else {"scheduler": scheduler.state_dict()}
        if averaged is not None:
            optional["averaged"] = averaged.state_dict()
        resume.save({**state, **optional, "model": model.state_dict(),
                     "optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state(),
                     "generator": generator.get_state()})
        if state["stopped"]:
            log.info("early stopping at epoch %d (best %d)", epoch, state["best_epoch"])
            break
    model.load_state_dict(state["best_state"])
    return model, pd.DataFrame(state["history"], columns=["epoch", *columns, "lr"])


def ema_model(model: nn.Module, optimizer: torch.optim.Optimizer, decay: float) -> AveragedModel:
    """Return an exponential moving average of ``model``'s weights and batch-norm statistics,
    updated after every ``optimizer`` step: average ← decay · average + (1 − decay) · weights
    (``decay`` per step; 0.99 averages over about the last 100 steps)."""
    averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    optimizer.register_step_post_hook(lambda *_: averaged.update_parameters(model))
    return averaged


def build_optimizer(model: nn.Module, cfg: dict,
                    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Return (optimizer, per-epoch scheduler) of the ``train`` config section.

    ``optimizer``: ``sgd`` (``momentum``) or ``adamw``, both with ``lr`` and ``weight_decay``.
    ``scheduler``: ``plateau`` halves (``scheduler_factor``) the rate after ``scheduler_patience``
    epochs without a lower validation loss (paper 000); ``cosine`` anneals it to 0 over ``epochs``.
    """
    if cfg["optimizer"] == "adamw":
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["lr"],
                                      weight_decay=cfg["weight_decay"])
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                                    weight_decay=cfg["weight_decay"])
    if cfg["scheduler"] == "cosine":
        return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg["epochs"])
    return optimizer, torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=cfg["scheduler_factor"], patience=cfg["scheduler_patience"])


def training_loss(labels: Sequence[int], cfg: dict, num_classes: int) -> nn.CrossEntropyLoss:
    """Summed cross-entropy of the training batches over ``num_classes`` outputs:
    ``label_smoothing`` and, with ``class_weights``, per-class weights n / (k · count) (inverse
    frequency, mean 1 per image; 0 for a class absent from ``labels``)."""
    weight = None
    if cfg["class_weights"]:
        counts = np.bincount(np.asarray(labels), minlength=num_classes).astype(np.float32)
        present = counts > 0
        weight = np.zeros_like(counts)
        weight[present] = counts.sum() / (present.sum() * counts[present])
        weight = torch.from_numpy(weight)
    return nn.CrossEntropyLoss(weight=weight, reduction="sum",
                               label_smoothing=cfg["label_smoothing"])


def fit(model: nn.Module, train_table: pd.DataFrame, val_table: pd.DataFrame, cfg: dict,
        device: str, seed: int, resume: ResumeFile | None = None) -> tuple[nn.Module, pd.DataFrame]:
    """Train with early stopping on validation loss; return (best model, history table).

    ``cfg`` is the ``train`` section of the config (recipe keys: ``sampling``, ``online_augment``,
    ``class_weights``, ``label_smoothing``, ``optimizer``, ``scheduler``, ``ema_decay``: validate,
    select and return the weights' moving average; ``select_on`` is the validation column that
    picks the best epoch). With ``resume``, the
    state is saved after every epoch and a saved state is continued from (``ResumeFile``).
    """
    seed_everything(seed)
    transform = online_augmentation(cfg["input_size"]) if cfg["online_augment"] else None
    train_loader, val_loader, generator = seeded_loaders(
        partial(ImageTable, color_constancy=cfg["color_constancy"]), train_table, val_table,
        cfg["input_size"], cfg["batch_size"], seed,
        balanced=cfg["sampling"] == "balanced", transform=transform)
    model.to(device)
    optimizer, scheduler = build_optimizer(model, cfg)
    criterion = training_loss(train_table["label"].astype(int), cfg,
                              model.fc.out_features).to(device)
    averaged = ema_model(model, optimizer, cfg["ema_decay"]) if cfg["ema_decay"] else None
    evaluated = model if averaged is None else averaged.module

    def one_epoch() -> dict[str, float]:
        tr = run_epoch(model, train_loader, device, optimizer, criterion)
        va = run_epoch(evaluated, val_loader, device)
        return {"train_loss": tr.loss, "train_accuracy": tr.accuracy, "val_loss": va.loss,
                "val_accuracy": va.accuracy, "val_balanced_accuracy": va.balanced_accuracy}

    return train_epochs(model, optimizer, generator, one_epoch, HISTORY_COLUMNS, cfg["epochs"],
                        cfg["early_stopping_patience"], resume or ResumeFile(None, ""), scheduler,
                        monitor=cfg["select_on"], averaged=averaged)


def training_fingerprint(dataset_csv: str | os.PathLike, cfg: dict, device: str, seed: int) -> str:
    """SHA-256 of the training settings and the dataset table: what a resume state must match."""
    digest = hashlib.sha256(json.dumps([cfg, device, seed], sort_keys=True).encode())
    digest.update(Path(dataset_csv).read_bytes())
    return digest.hexdigest()


@torch.no_grad()
def predict(model: nn.Module, table: pd.DataFrame, size: int, batch_size: int,
            device: str, color_constancy: float | None = None) -> np.ndarray:
    """Return softmax probabilities (n_rows, n_classes) of ``model`` on ``table``'s images
    (``color_constancy``: as ``read_model_image``)."""
    model.eval()
    loader = DataLoader(ImageTable(table, size, color_constancy=color_constancy),
                        batch_size=batch_size)
    return torch.cat([torch.softmax(model(x.to(device)), 1).cpu() for x, _ in loader]).numpy()


def test_predictions(table: pd.DataFrame, probabilities: np.ndarray,
                     classes: Sequence[str]) -> pd.DataFrame:
    """Return the ``test_predictions.csv`` table (contracts §3) from class probabilities
    (columns: ``classes``)."""
    predicted = probabilities.argmax(1)
    return pd.DataFrame({
        "image_id": table["image_id"].to_numpy(),
        "dx": table["dx"].to_numpy(),
        "label": table["label"].astype(int).to_numpy(),
        "predicted_label": predicted,
        "predicted_dx": [classes[i] for i in predicted],
        "probability": probabilities[np.arange(len(predicted)), predicted],
    })


def classification_table(predictions: pd.DataFrame, probabilities: np.ndarray,
                         classes: Sequence[str]) -> pd.DataFrame:
    """Return paper 000 Table 1: per-class precision/recall/F1/support, averages and test loss."""
    labels = list(range(len(classes)))
    report = classification_report(predictions["label"], predictions["predicted_label"],
                                   labels=labels, target_names=list(classes),
                                   output_dict=True, zero_division=0)
    rows = [(name, r["precision"], r["recall"], r["f1-score"], r["support"])
            for name, r in report.items() if name != "accuracy"]
    n = len(predictions)
    rows.insert(len(classes), ("accuracy", None, None, report["accuracy"], n))
    eps = np.finfo(np.float64).tiny
    true_p = probabilities[np.arange(n), predictions["label"].to_numpy()]
    rows.append(("test loss", None, None, float(-np.log(np.maximum(true_p, eps)).mean()), n))
    return pd.DataFrame(rows, columns=["class", "precision", "recall", "f1_score", "support"])


def classifier_metadata(cfg: dict, classes: Sequence[str]) -> dict[str, Any]:
    """The checkpoint metadata that rebuilds a classifier of the ``train`` settings ``cfg``
    with one output per name in ``classes``."""
    return {"arch": cfg["arch"], "cbam": cfg["cbam"], "cbam_reduction": cfg["cbam_reduction"],
            "cbam_kernel": cfg["cbam_kernel"], "input_size": cfg["input_size"],
            "color_constancy": cfg["color_constancy"], "classes": list(classes)}


def train_member(dataset_csv: str | os.PathLike, outputs, cfg: dict, device: str, seed: int,
                 resume_path: str | os.PathLike | None = None) -> None:
    """Train one classifier (one member of the variant's ensemble): build, fit, save.

    ``outputs`` has the attributes ``model`` and ``history`` (paths, contracts §3); ``cfg`` is the
    ``train`` config section; ``seed`` draws the initial weights, batches and augmentations.
    ``resume_path``: where the per-epoch resume state lives while training runs (deleted after).
    """
    dataset = pd.read_csv(dataset_csv)
    classes = class_names(dataset.dx)
    seed_everything(seed)  # the initial weights are drawn here
    model = build_classifier(cfg["arch"], len(classes), cfg["cbam"], cfg["cbam_reduction"],
                             cfg["cbam_kernel"], cfg["pretrained_weights"])
    splits = {name: dataset[dataset.split == name] for name in ("train", "val")}
    log.info("training %s (cbam=%s, seed %d) on %d images, validating on %d", cfg["arch"],
             cfg["cbam"], seed, len(splits["train"]), len(splits["val"]))
    resume = ResumeFile(resume_path, training_fingerprint(dataset_csv, cfg, device, seed))
    model, history = fit(model, splits["train"], splits["val"], cfg, device, seed, resume)
    best = history.loc[selection_loss(cfg["select_on"], history).idxmin()]
    save_checkpoint(model, outputs.model, **classifier_metadata(cfg, classes), seed=seed,
                    epoch=int(best.epoch), val_loss=float(best.val_loss),
                    val_balanced_accuracy=float(best.val_balanced_accuracy))
    write_csv(history, outputs.history)
    resume.remove()


def ensemble_and_report(dataset_csv: str | os.PathLike, member_models: Sequence[str | os.PathLike],
                        member_histories: Sequence[str | os.PathLike], outputs, cfg: dict,
                        device: str) -> None:
    """Combine the trained members into the variant's classifier and report it on the test split.

    One member is the classifier itself; several form a ``LogitEnsemble``. ``outputs`` has the
    attributes ``model`` (checkpoint with ``members`` and each member's ``member_epochs``),
    ``history`` (the members' histories stacked, column ``member``), ``predictions`` and
    ``classification`` (paths, contracts §3); ``cfg`` is the ``train`` config section.
    """
    loaded = [load_checkpoint(path, device) for path in member_models]
    model = join_members([member for member, _ in loaded])
    classes = loaded[0][1]["classes"]
    save_checkpoint(model, outputs.model, **classifier_metadata(cfg, classes), members=len(loaded),
                    member_epochs=[meta["epoch"] for _, meta in loaded])
    history = pd.concat([pd.read_csv(path).assign(member=i) for i, path in enumerate(member_histories)])
    write_csv(history[["member", "epoch", *HISTORY_COLUMNS, "lr"]], outputs.history)
    test = pd.read_csv(dataset_csv).query("split == 'test'")
    log.info("%d member(s); predicting %d test images", len(loaded), len(test))
    probabilities = predict(model, test, cfg["input_size"], cfg["batch_size"], device,
                            cfg["color_constancy"])
    predictions = test_predictions(test, probabilities, classes)
    write_csv(predictions, outputs.predictions)
    report = classification_table(predictions, probabilities, classes)
    write_csv(report, outputs.classification)
    log.info("test classification report:\n%s", report.to_string(index=False))
