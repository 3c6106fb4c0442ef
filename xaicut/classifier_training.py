"""Stages ``train_member`` and ``train``: the ResNet(+CBAM) classifier on class labels only
(paper 000 §2.2).

Input: dataset B (``docs/data-contracts.md`` §2). Each member of a variant's deep ensemble
(``train.members``, one by default) is trained on its own seed by :func:`train_member`: its best
checkpoint on the validation monitor and its per-epoch history. :func:`ensemble_and_report` joins
the members into the variant's classifier and writes the test-split classification report in
paper 000 Table 1 form (§3). The recipe (optimiser, schedule, sampling, augmentation, weight
averaging, epoch selection) comes from the ``train`` config section; the epochs run in
``xaicut.epochs``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import classification_report
from torch import nn
from torch.utils.data import DataLoader

from xaicut.classes import class_names
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
from xaicut.io import write_csv
from xaicut.model import build_classifier, join_members, load_checkpoint, save_checkpoint
from xaicut.preprocess import ImageTable, online_augmentation

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ["train_loss", "train_accuracy", "val_loss", "val_accuracy",
                   "val_balanced_accuracy"]
"""``history.csv`` columns between ``epoch`` and ``lr`` (contracts §3)."""


class ClassificationObjective(Objective):
    """Batches of (images, class labels) scored by ``criterion`` on the logits (N, classes),
    summed over the batch (default: plain cross-entropy). A pass reports the mean ``loss`` per
    image, ``accuracy`` and ``balanced_accuracy`` (mean recall of the classes present)."""

    def __init__(self, criterion: nn.Module | None = None) -> None:
        self.criterion = criterion or nn.CrossEntropyLoss(reduction="sum")

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, int]:
        return self.criterion(outputs, targets), len(targets)

    def measure(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, Any]:
        """``confusion``: int64 (classes, classes) counts, true class by row, predicted by
        column."""
        classes = outputs.shape[1]
        pairs = targets.cpu() * classes + outputs.argmax(1).cpu()
        return {"confusion": torch.bincount(pairs, minlength=classes**2)
                .reshape(classes, classes).numpy()}

    def summary(self, totals: PassTotals) -> dict[str, float]:
        stats = super().summary(totals)
        if not totals.samples:
            return {**stats, "accuracy": 0.0, "balanced_accuracy": 0.0}
        confusion = totals.measures["confusion"]
        support = confusion.sum(1)
        present = support > 0
        recall = np.diag(confusion)[present] / support[present]
        return {**stats, "accuracy": float(np.trace(confusion) / totals.samples),
                "balanced_accuracy": float(np.mean(recall))}


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
    picks the best epoch). Validation scores plain cross-entropy. With ``resume``, the state is
    saved after every epoch and a saved state is continued from (``xaicut.epochs.ResumeFile``).
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
    one_epoch = train_then_validate(
        model, optimizer, train_loader, val_loader, device, ClassificationObjective(criterion),
        validated=None if averaged is None else averaged.module,
        val_objective=ClassificationObjective())
    return train_epochs(model, optimizer, generator, one_epoch, HISTORY_COLUMNS, cfg["epochs"],
                        cfg["early_stopping_patience"], resume or ResumeFile(None, ""), scheduler,
                        monitor=cfg["select_on"], averaged=averaged)


@torch.no_grad()
def predict(model: nn.Module, table: pd.DataFrame, size: int, batch_size: int,
            device: str, color_constancy: float | None = None) -> np.ndarray:
    """Return softmax probabilities (n_rows, n_classes) of ``model`` on ``table``'s images
    (``color_constancy``: as ``xaicut.preprocess.read_model_image``)."""
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


def train_member(dataset_csv: str | os.PathLike, model_path: str | os.PathLike,
                 history_path: str | os.PathLike, cfg: dict, device: str, seed: int,
                 resume_path: str | os.PathLike | None = None) -> None:
    """Train one classifier (one member of the variant's ensemble): build, fit, save.

    Writes the checkpoint of the selected epoch to ``model_path`` and the per-epoch history to
    ``history_path`` (contracts §3). ``cfg`` is the ``train`` config section; ``seed`` draws the
    initial weights, batches and augmentations. ``resume_path``: where the per-epoch resume state
    lives while training runs (deleted after).
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
    best = selected_epoch(history, cfg["select_on"])
    save_checkpoint(model, model_path, **classifier_metadata(cfg, classes), seed=seed,
                    epoch=int(best.epoch), val_loss=float(best.val_loss),
                    val_balanced_accuracy=float(best.val_balanced_accuracy))
    write_csv(history, history_path)
    resume.remove()


def ensemble_and_report(dataset_csv: str | os.PathLike, member_models: Sequence[str | os.PathLike],
                        member_histories: Sequence[str | os.PathLike],
                        model_path: str | os.PathLike, history_path: str | os.PathLike,
                        predictions_path: str | os.PathLike,
                        classification_path: str | os.PathLike, cfg: dict, device: str) -> None:
    """Combine the trained members into the variant's classifier and report it on the test split.

    One member is the classifier itself; several form a ``LogitEnsemble``. Writes (contracts §3)
    the checkpoint with ``members`` and each member's ``member_epochs`` to ``model_path``, the
    members' histories stacked (column ``member``) to ``history_path``, the test predictions to
    ``predictions_path`` and the classification report to ``classification_path``; ``cfg`` is
    the ``train`` config section.
    """
    loaded = [load_checkpoint(path, device) for path in member_models]
    model = join_members([member for member, _ in loaded])
    classes = loaded[0][1]["classes"]
    save_checkpoint(model, model_path, **classifier_metadata(cfg, classes), members=len(loaded),
                    member_epochs=[meta["epoch"] for _, meta in loaded])
    history = pd.concat([pd.read_csv(path).assign(member=i)
                         for i, path in enumerate(member_histories)])
    write_csv(history[["member", "epoch", *HISTORY_COLUMNS, "lr"]], history_path)
    test = pd.read_csv(dataset_csv).query("split == 'test'")
    log.info("%d member(s); predicting %d test images", len(loaded), len(test))
    probabilities = predict(model, test, cfg["input_size"], cfg["batch_size"], device,
                            cfg["color_constancy"])
    predictions = test_predictions(test, probabilities, classes)
    write_csv(predictions, predictions_path)
    report = classification_table(predictions, probabilities, classes)
    write_csv(report, classification_path)
    log.info("test classification report:\n%s", report.to_string(index=False))
