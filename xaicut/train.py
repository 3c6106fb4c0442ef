"""Stage ``train``: fit the ResNet(+CBAM) classifier on class labels only (paper 000 §2.2).

Input: dataset B (``docs/data-contracts.md`` §2). Output (§3): the best checkpoint on validation
loss, the per-epoch history, and the test-split classification report in paper 000 Table 1 form.
SGD with momentum and weight decay, ``ReduceLROnPlateau`` on validation loss, early stopping.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from sklearn.metrics import classification_report
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from xaicut import CLASSES
from xaicut.io import atomic_path, read_rgb, write_csv
from xaicut.model import build_classifier, save_checkpoint

log = logging.getLogger(__name__)

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch random generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def to_input_tensor(image: np.ndarray, size: int) -> torch.Tensor:
    """Resize an RGB uint8 image to ``size``×``size`` and normalise it: float32 (3, size, size)."""
    resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    scaled = (resized.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(scaled.transpose(2, 0, 1).copy())


def load_image_tensor(path: str, size: int) -> torch.Tensor:
    """Read a JPEG and return the model input tensor (the one place images are resized)."""
    return to_input_tensor(read_rgb(path), size)


class ImageTable(Dataset):
    """Rows of a manifest/dataset-B table as (input tensor, label) pairs."""

    def __init__(self, table: pd.DataFrame, size: int) -> None:
        self.paths = table["image_path"].tolist()
        self.labels = table["label"].astype(int).tolist()
        self.size = size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return load_image_tensor(self.paths[i], self.size), self.labels[i]


@dataclass(frozen=True)
class EpochStats:
    """Mean loss and accuracy over one pass of a loader."""

    loss: float
    accuracy: float


def run_epoch(model: nn.Module, loader: DataLoader, device: str,
              optimizer: torch.optim.Optimizer | None = None) -> EpochStats:
    """Run one pass over ``loader``; train when ``optimizer`` is given, else evaluate."""
    training = optimizer is not None
    model.train(training)
    criterion = nn.CrossEntropyLoss(reduction="sum")
    total_loss, correct, count = 0.0, 0, 0
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
            correct += (logits.argmax(1) == y).sum().item()
            count += len(y)
    return EpochStats(total_loss / max(count, 1), correct / max(count, 1))


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


def seeded_loaders(dataset: Callable[[pd.DataFrame, int], Dataset], train_table: pd.DataFrame,
                   val_table: pd.DataFrame, size: int, batch_size: int,
                   seed: int) -> tuple[DataLoader, DataLoader, torch.Generator]:
    """Return (training loader, shuffled by a generator seeded with ``seed``; validation loader in
    table order; that generator). ``dataset(table, size)`` builds each loader's dataset."""
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(dataset(train_table, size), batch_size=batch_size, shuffle=True,
                              generator=generator)
    return train_loader, DataLoader(dataset(val_table, size), batch_size=batch_size), generator


def train_epochs(model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator,
                 one_epoch: Callable[[], dict[str, float]], columns: list[str], epochs: int,
                 patience: int, resume: ResumeFile,
                 scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau | None = None,
                 ) -> tuple[nn.Module, pd.DataFrame]:
    """Train epoch by epoch with early stopping on validation loss; return (best model, history).

    ``one_epoch`` trains and validates once and returns at least ``val_loss`` and the ``columns``
    (history columns between ``epoch`` and ``lr``). ``generator`` is every random source besides
    torch's global one (shuffling, augmentation). The state is saved to ``resume`` after every
    epoch and a saved state is continued from, so a killed job ends as an uninterrupted one.
    Early stopping: ``patience`` epochs without a lower validation loss.
    """
    state = {"epoch": 0, "best_loss": float("inf"), "best_epoch": 0, "best_state": None,
             "history": [], "stopped": False}
    saved = resume.load()
    if saved is not None:
        model.load_state_dict(saved["model"])
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
        if scheduler is not None:
            scheduler.step(stats["val_loss"])
        state["history"].append([epoch, *(stats[c] for c in columns), lr])
        log.info("epoch %d: %s | lr %.4g", epoch,
                 " ".join(f"{c} {stats[c]:.4f}" for c in columns), lr)
        if stats["val_loss"] < state["best_loss"]:
            state.update(best_loss=stats["val_loss"], best_epoch=epoch,
                         best_state=copy.deepcopy(model.state_dict()))
        state.update(epoch=epoch, stopped=epoch - state["best_epoch"] >= patience)
        scheduler_state = {} if scheduler is None else {"scheduler": scheduler.state_dict()}
        resume.save({**state, **scheduler_state, "model": model.state_dict(),
                     "optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state(),
                     "generator": generator.get_state()})
        if state["stopped"]:
            log.info("early stopping at epoch %d (best %d)", epoch, state["best_epoch"])
            break
    model.load_state_dict(state["best_state"])
    return model, pd.DataFrame(state["history"], columns=["epoch", *columns, "lr"])


def fit(model: nn.Module, train_table: pd.DataFrame, val_table: pd.DataFrame, cfg: dict,
        device: str, seed: int, resume: ResumeFile | None = None) -> tuple[nn.Module, pd.DataFrame]:
    """Train with early stopping on validation loss; return (best model, history table).

    ``cfg`` is the ``train`` section of the config. With ``resume``, the state is saved after
    every epoch and a saved state is continued from (``ResumeFile``).
    """
    seed_everything(seed)
    train_loader, val_loader, generator = seeded_loaders(ImageTable, train_table, val_table,
                                                         cfg["input_size"], cfg["batch_size"], seed)
    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                                weight_decay=cfg["weight_decay"])
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=cfg["scheduler_factor"], patience=cfg["scheduler_patience"])

    def one_epoch() -> dict[str, float]:
        tr = run_epoch(model, train_loader, device, optimizer)
        va = run_epoch(model, val_loader, device)
        return {"train_loss": tr.loss, "train_accuracy": tr.accuracy, "val_loss": va.loss,
                "val_accuracy": va.accuracy}

    columns = ["train_loss", "train_accuracy", "val_loss", "val_accuracy"]
    return train_epochs(model, optimizer, generator, one_epoch, columns, cfg["epochs"],
                        cfg["early_stopping_patience"], resume or ResumeFile(None, ""), scheduler)


def training_fingerprint(dataset_csv: str | os.PathLike, cfg: dict, device: str, seed: int) -> str:
    """SHA-256 of the training settings and the dataset table: what a resume state must match."""
    digest = hashlib.sha256(json.dumps([cfg, device, seed], sort_keys=True).encode())
    digest.update(Path(dataset_csv).read_bytes())
    return digest.hexdigest()


@torch.no_grad()
def predict(model: nn.Module, table: pd.DataFrame, size: int, batch_size: int,
            device: str) -> np.ndarray:
    """Return softmax probabilities (n_rows, n_classes) of ``model`` on ``table``'s images."""
    model.eval()
    loader = DataLoader(ImageTable(table, size), batch_size=batch_size)
    return torch.cat([torch.softmax(model(x.to(device)), 1).cpu() for x, _ in loader]).numpy()


def test_predictions(table: pd.DataFrame, probabilities: np.ndarray) -> pd.DataFrame:
    """Return the ``test_predictions.csv`` table (contracts §3) from class probabilities."""
    predicted = probabilities.argmax(1)
    return pd.DataFrame({
        "image_id": table["image_id"].to_numpy(),
        "dx": table["dx"].to_numpy(),
        "label": table["label"].astype(int).to_numpy(),
        "predicted_label": predicted,
        "predicted_dx": [CLASSES[i] for i in predicted],
        "probability": probabilities[np.arange(len(predicted)), predicted],
    })


def classification_table(predictions: pd.DataFrame, probabilities: np.ndarray) -> pd.DataFrame:
    """Return paper 000 Table 1: per-class precision/recall/F1/support, averages and test loss."""
    labels = list(range(len(CLASSES)))
    report = classification_report(predictions["label"], predictions["predicted_label"],
                                   labels=labels, target_names=list(CLASSES),
                                   output_dict=True, zero_division=0)
    rows = [(name, r["precision"], r["recall"], r["f1-score"], r["support"])
            for name, r in report.items() if name != "accuracy"]
    n = len(predictions)
    rows.insert(len(CLASSES), ("accuracy", None, None, report["accuracy"], n))
    eps = np.finfo(np.float64).tiny
    true_p = probabilities[np.arange(n), predictions["label"].to_numpy()]
    rows.append(("test loss", None, None, float(-np.log(np.maximum(true_p, eps)).mean()), n))
    return pd.DataFrame(rows, columns=["class", "precision", "recall", "f1_score", "support"])


def train_and_report(dataset_csv: str, outputs, cfg: dict, device: str, seed: int,
                     resume_path: str | os.PathLike | None = None) -> None:
    """Run the whole train stage: build, fit, save checkpoint, history and test report.

    ``outputs`` has the attributes ``model``, ``history``, ``classification`` and ``predictions``
    (paths, contracts §3); ``cfg`` is the ``train`` config section. ``resume_path``: where the
    per-epoch resume state lives while the stage runs (deleted when it finishes).
    """
    dataset = pd.read_csv(dataset_csv)
    seed_everything(seed)  # the initial weights are drawn here
    model = build_classifier(cfg["arch"], len(CLASSES), cfg["cbam"], cfg["cbam_reduction"],
                             cfg["cbam_kernel"], cfg["pretrained_weights"])
    splits = {name: dataset[dataset.split == name] for name in ("train", "val", "test")}
    log.info("training %s (cbam=%s) on %d images, validating on %d", cfg["arch"], cfg["cbam"],
             len(splits["train"]), len(splits["val"]))
    resume = ResumeFile(resume_path, training_fingerprint(dataset_csv, cfg, device, seed))
    model, history = fit(model, splits["train"], splits["val"], cfg, device, seed, resume)
    best = history.loc[history.val_loss.idxmin()]
    save_checkpoint(model, outputs.model, arch=cfg["arch"], cbam=cfg["cbam"],
                    cbam_reduction=cfg["cbam_reduction"], cbam_kernel=cfg["cbam_kernel"],
                    input_size=cfg["input_size"], classes=list(CLASSES),
                    epoch=int(best.epoch), val_loss=float(best.val_loss))
    write_csv(history, outputs.history)
    probabilities = predict(model, splits["test"], cfg["input_size"], cfg["batch_size"], device)
    predictions = test_predictions(splits["test"], probabilities)
    write_csv(predictions, outputs.predictions)
    report = classification_table(predictions, probabilities)
    write_csv(report, outputs.classification)
    log.info("test classification report:\n%s", report.to_string(index=False))
    resume.remove()
