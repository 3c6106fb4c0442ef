"""Epoch-by-epoch training, shared by the classifier, the U-Net, the student and SimCLR.

One loop (:func:`train_epochs`) runs epochs until early stopping, keeps the best epoch's weights
by a monitored validation column and saves its whole state after every epoch to a
:class:`ResumeFile`, so a killed job ends exactly as an uninterrupted one. An epoch is a training
pass and a validation pass of :func:`run_pass` (:func:`train_then_validate`) over loaders whose
shuffling draws from one seeded generator (:func:`seeded_loaders`); what a pass minimises and
reports on a batch is an :class:`Objective`, one subclass per kind of network.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler
from tqdm import tqdm

from xaicut.io import atomic_path

log = logging.getLogger(__name__)

BatchTransform = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
"""(inputs, targets) of a batch → changed (inputs, targets), e.g. random flips of both."""


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch random generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def training_fingerprint(table_csv: str | os.PathLike, cfg: dict, device: str, seed: int) -> str:
    """SHA-256 (hex) of the training settings ``cfg``, ``device``, ``seed`` and the bytes of the
    training table ``table_csv``: what a resume state must match."""
    digest = hashlib.sha256(json.dumps([cfg, device, seed], sort_keys=True).encode())
    digest.update(Path(table_csv).read_bytes())
    return digest.hexdigest()


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
            log.warning("%s: not a readable resume state (%s); training from epoch 1", self.path,
                        err)
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


def class_balanced_sampler(labels: Sequence[int],
                           generator: torch.Generator) -> WeightedRandomSampler:
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
    :func:`class_balanced_sampler`) with a generator seeded with ``seed``, and drops an
    incomplete last batch when ``drop_last``. ``dataset(table, size)`` builds each loader's
    dataset; ``transform`` is passed to the training one only.
    """
    generator = torch.Generator().manual_seed(seed)
    train_data = (dataset(train_table, size) if transform is None
                  else dataset(train_table, size, transform))
    sampler = (class_balanced_sampler(train_table["label"].astype(int), generator)
               if balanced else None)
    train_loader = DataLoader(train_data, batch_size=batch_size, shuffle=sampler is None,
                              sampler=sampler, generator=generator, drop_last=drop_last)
    return train_loader, DataLoader(dataset(val_table, size), batch_size=batch_size), generator


@dataclass
class PassTotals:
    """Sums over one pass of a loader: the loss over all samples, the number of samples, and
    each of the objective's measures by name (floats or arrays)."""

    loss: float = 0.0
    samples: int = 0
    measures: dict[str, Any] = field(default_factory=dict)

    def add(self, loss: float, samples: int, measures: dict[str, Any]) -> None:
        """Add one batch's summed loss, sample count and measures."""
        self.loss += loss
        self.samples += samples
        for name, value in measures.items():
            self.measures[name] = self.measures.get(name, 0) + value


class Objective(ABC):
    """How :func:`run_pass` scores one batch ``(inputs, targets)``; one subclass per kind of
    network. The pass minimises the mean loss per sample.

    ``min_batch``: batches with fewer samples are skipped; they are still loaded, so the random
    draws of the data pipeline stay those of the whole loader.
    """

    min_batch: int = 1

    def forward(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> Any:
        """The model's outputs on a batch already on the device: ``model(inputs)``."""
        return model(inputs)

    @abstractmethod
    def loss(self, outputs: Any, targets: torch.Tensor) -> tuple[torch.Tensor, int]:
        """(the batch's loss summed over its samples, a 0-dim tensor; the number of samples)."""

    def measure(self, outputs: Any, targets: torch.Tensor) -> dict[str, Any]:
        """What the pass sums besides the loss, by name (floats or arrays); none by default."""
        return {}

    def summary(self, totals: PassTotals) -> dict[str, float]:
        """What the pass reports, by history column name without its ``train_`` / ``val_``
        prefix: here ``loss``, the mean loss per sample (0 after no sample)."""
        return {"loss": totals.loss / max(totals.samples, 1)}


def run_pass(model: nn.Module, loader: DataLoader, device: str, objective: Objective,
             optimizer: torch.optim.Optimizer | None = None,
             transform: BatchTransform | None = None) -> dict[str, float]:
    """One pass over ``loader``: train when ``optimizer`` is given (one step per batch on the
    mean loss per sample), else evaluate without gradients. ``transform`` changes each batch
    before it moves to ``device``. Returns ``objective.summary`` of the pass."""
    training = optimizer is not None
    model.train(training)
    totals = PassTotals()
    with torch.set_grad_enabled(training):
        for inputs, targets in loader:
            if len(inputs) < objective.min_batch:
                continue
            if transform is not None:
                inputs, targets = transform(inputs, targets)
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = objective.forward(model, inputs, targets)
            loss, samples = objective.loss(outputs, targets)
            if training:
                optimizer.zero_grad()
                (loss / samples).backward()
                optimizer.step()
            totals.add(loss.item(), samples, objective.measure(outputs, targets))
    return objective.summary(totals)


def train_then_validate(model: nn.Module, optimizer: torch.optim.Optimizer,
                        train_loader: DataLoader, val_loader: DataLoader, device: str,
                        objective: Objective, transform: BatchTransform | None = None,
                        validated: nn.Module | None = None,
                        val_objective: Objective | None = None) -> Callable[[], dict[str, float]]:
    """Return the ``one_epoch`` of :func:`train_epochs`: a training pass of ``model`` over
    ``train_loader`` (batches through ``transform``), then an evaluation pass of ``validated``
    (default ``model``) scored by ``val_objective`` (default ``objective``) over ``val_loader``.
    It returns both summaries, their names prefixed ``train_`` and ``val_``."""
    evaluated = model if validated is None else validated
    scored = objective if val_objective is None else val_objective

    def one_epoch() -> dict[str, float]:
        trained = run_pass(model, train_loader, device, objective, optimizer, transform)
        checked = run_pass(evaluated, val_loader, device, scored)
        return {**{f"train_{k}": v for k, v in trained.items()},
                **{f"val_{k}": v for k, v in checked.items()}}

    return one_epoch


def selection_loss(monitor: str,
                   epochs: Mapping[str, float] | pd.DataFrame) -> float | pd.Series:
    """How an epoch ranks for selection, lower is better: ``monitor`` ``last`` ranks later epochs
    first, columns named ``*accuracy`` are negated, losses stay. ``epochs``: one epoch's values
    (a mapping with ``epoch``) or the history table; returns a float or a column."""
    if monitor == "last":
        return -epochs["epoch"]
    return -epochs[monitor] if monitor.endswith("accuracy") else epochs[monitor]


def selected_epoch(history: pd.DataFrame, monitor: str = "val_loss") -> pd.Series:
    """The row of ``history`` (from :func:`train_epochs`) whose weights were kept: the first
    with the lowest ``selection_loss(monitor, ...)``."""
    return history.loc[selection_loss(monitor, history).idxmin()]


def ema_model(model: nn.Module, optimizer: torch.optim.Optimizer, decay: float) -> AveragedModel:
    """Return an exponential moving average of ``model``'s weights and batch-norm statistics,
    updated after every ``optimizer`` step: average ← decay · average + (1 − decay) · weights
    (``decay`` per step; 0.99 averages over about the last 100 steps)."""
    averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    optimizer.register_step_post_hook(lambda *_: averaged.update_parameters(model))
    return averaged


def train_epochs(model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator,
                 one_epoch: Callable[[], dict[str, float]], columns: list[str], epochs: int,
                 patience: int, resume: ResumeFile,
                 scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
                 monitor: str = "val_loss",
                 averaged: AveragedModel | None = None) -> tuple[nn.Module, pd.DataFrame]:
    """Train epoch by epoch with early stopping; return (best model, history).

    ``one_epoch`` trains and validates once (:func:`train_then_validate`) and returns at least
    ``val_loss``, ``monitor`` and the ``columns`` (history columns between ``epoch`` and ``lr``).
    The best epoch has the lowest ``selection_loss(monitor, ...)``. ``generator`` is every random
    source besides torch's global one (shuffling, augmentation). The state is saved to ``resume``
    after every epoch and a saved state is continued from, so a killed job ends as an
    uninterrupted one. Early stopping: ``patience`` epochs without a better ``monitor``.
    ``scheduler`` steps once per epoch (``ReduceLROnPlateau`` on the validation loss).
    ``averaged``: a running average of ``model``'s weights (:func:`ema_model`); when given, its
    weights are the ones selected and returned.
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
