"""Training resumes after the last finished epoch and ends exactly where an uninterrupted run
ends."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
import torch

from conftest import train_settings
from xaicut import CLASSES, epochs
from xaicut.classifier_training import fit, train_member
from xaicut.epochs import ResumeFile
from xaicut.ingest import build_manifest
from xaicut.model import build_classifier, load_checkpoint

CFG = train_settings(arch="resnet18", cbam=False, input_size=32, batch_size=8, epochs=4, lr=0.02,
                     momentum=0.8, weight_decay=0.001, scheduler_patience=1, scheduler_factor=0.5,
                     early_stopping_patience=10)
REAL_RUN_PASS = epochs.run_pass


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    from conftest import write_tiny_release

    root = tmp_path_factory.mktemp("resume")
    write_tiny_release(root / "ham")
    manifest = build_manifest(root / "ham", val=0.25, test=0.25, seed=0)
    return manifest[manifest.split == "train"], manifest[manifest.split == "val"]


def fresh_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_classifier("resnet18", len(CLASSES))


def crash_after(calls: int, monkeypatch) -> None:
    """Make ``run_pass`` raise on its ``calls + 1``-th call (one epoch = train + val call)."""
    real, count = epochs.run_pass, {"n": 0}

    def crashing(*args, **kwargs):
        count["n"] += 1
        if count["n"] > calls:
            raise KeyboardInterrupt("simulated kill")
        return real(*args, **kwargs)

    monkeypatch.setattr(epochs, "run_pass", crashing)


# Every recipe switch that draws random numbers or keeps state between epochs.
FULL_RECIPE = dict(online_augment=True, sampling="balanced", optimizer="adamw", lr=0.001,
                   scheduler="cosine", class_weights=True, label_smoothing=0.1,
                   select_on="val_balanced_accuracy", ema_decay=0.9)


@pytest.mark.parametrize("recipe", [{}, FULL_RECIPE], ids=["paper", "full-recipe"])
def test_a_resumed_run_ends_with_the_uninterrupted_model(tables, tmp_path, monkeypatch, caplog,
                                                         recipe):
    train_rows, val_rows = tables
    cfg = {**CFG, **recipe}
    reference, reference_history = fit(fresh_model(), train_rows, val_rows, cfg, "cpu", seed=3)

    resume = ResumeFile(tmp_path / "last_epoch.pt", "settings-1")
    crash_after(5, monkeypatch)  # epochs 1-2 finish, epoch 3 dies in validation
    with pytest.raises(KeyboardInterrupt):
        fit(fresh_model(), train_rows, val_rows, cfg, "cpu", seed=3, resume=resume)
    assert torch.load(resume.path, weights_only=True)["epoch"] == 2
    monkeypatch.undo()

    calls = []
    monkeypatch.setattr(epochs, "run_pass",
                        lambda *a, **k: calls.append(1) or REAL_RUN_PASS(*a, **k))
    with caplog.at_level(logging.INFO, logger="xaicut.epochs"):
        model, history = fit(fresh_model(), train_rows, val_rows, cfg, "cpu", seed=3, resume=resume)
    assert "resuming after epoch 2" in caplog.text
    assert len(calls) == 2 * 2  # only epochs 3 and 4 ran
    assert history.equals(reference_history)
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_resume_state_of_other_settings_or_a_damaged_file_is_ignored(tables, tmp_path, caplog):
    train_rows, val_rows = tables
    cfg = {**CFG, "epochs": 1}
    path = tmp_path / "last_epoch.pt"
    fit(fresh_model(), train_rows, val_rows, cfg, "cpu", seed=3, resume=ResumeFile(path, "a"))
    with caplog.at_level(logging.WARNING, logger="xaicut.epochs"):
        _, history = fit(fresh_model(), train_rows, val_rows, cfg, "cpu", seed=3,
                         resume=ResumeFile(path, "b"))
    assert "saved under other settings" in caplog.text and len(history) == 1
    path.write_bytes(b"\x00 not a torch file")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xaicut.epochs"):
        _, history = fit(fresh_model(), train_rows, val_rows, cfg, "cpu", seed=3,
                         resume=ResumeFile(path, "b"))
    assert "not a readable resume state" in caplog.text and len(history) == 1


def test_an_early_stopped_run_does_not_train_again_on_resume(tables, tmp_path, monkeypatch):
    train_rows, val_rows = tables
    cfg = {**CFG, "epochs": 30, "early_stopping_patience": 1, "lr": 0.5}
    resume = ResumeFile(tmp_path / "last_epoch.pt", "s")
    _, history = fit(fresh_model(), train_rows, val_rows, cfg, "cpu", seed=1, resume=resume)
    assert len(history) < 30
    monkeypatch.setattr(epochs, "run_pass", lambda *a, **k: pytest.fail("trained again"))
    _, again = fit(fresh_model(), train_rows, val_rows, cfg, "cpu", seed=1, resume=resume)
    assert again.equals(history)


def test_the_train_stage_is_reproducible(tables, tmp_path):
    """Same seed, same data: the same initial weights, history and checkpoint weights."""
    train_rows, val_rows = tables
    (tmp_path / "dataset.csv").write_text(
        pd.concat([train_rows, val_rows, val_rows.assign(split="test")]).to_csv(index=False))
    cfg = {**CFG, "epochs": 2, "cbam": True, "cbam_reduction": 4, "cbam_kernel": 5,
           "pretrained_weights": None}
    states = []
    for name in ("a", "b"):
        train_member(str(tmp_path / "dataset.csv"), tmp_path / f"{name}.pt",
                     tmp_path / f"{name}_history.csv", cfg, "cpu", seed=7,
                     resume_path=tmp_path / f"{name}_last_epoch.pt")
        assert not (tmp_path / f"{name}_last_epoch.pt").exists()  # removed once outputs exist
        states.append(load_checkpoint(tmp_path / f"{name}.pt")[0].state_dict())
    assert (tmp_path / "a_history.csv").read_bytes() == (tmp_path / "b_history.csv").read_bytes()
    for key, value in states[0].items():
        assert torch.equal(states[1][key], value), key
