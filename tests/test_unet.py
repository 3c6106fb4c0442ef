"""Supervised U-Net baseline: shapes, learning on discs, seeded reruns, resume, masks, weights."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from torchvision import models

from conftest import write_tiny_release
from xaicut import epochs, unet
from xaicut.epochs import ResumeFile
from xaicut.ingest import build_manifest
from xaicut.unet import (
    UNet,
    fit_unet,
    flip_averaged_probability,
    load_unet,
    segment_unet_shard,
    train_unet,
)

CFG = dict(enabled=True, encoder="resnet18", pretrained_weights=None, input_size=32, batch_size=16,
           epochs=2, optimizer="adam", lr=0.003, momentum=0.9, flip=True,
           early_stopping_patience=10, ema_decay=None)


@pytest.fixture(scope="module")
def manifest_csv(tmp_path_factory):
    """A manifest of the tiny release (dark discs on light noise, 48×36 px) written to CSV."""
    root = tmp_path_factory.mktemp("unet")
    write_tiny_release(root / "ham")
    path = root / "manifest.csv"
    build_manifest(root / "ham", val=0.25, test=0.25, seed=0).to_csv(path, index=False)
    return path


def splits(manifest_csv) -> tuple[pd.DataFrame, pd.DataFrame]:
    manifest = pd.read_csv(manifest_csv)
    return manifest[manifest.split == "train"], manifest[manifest.split == "val"]


def outputs(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """(checkpoint path, history path) of one ``train_unet`` run."""
    return tmp_path / f"{name}.pt", tmp_path / f"{name}.csv"


@pytest.mark.parametrize("encoder", unet.ENCODERS)
def test_output_is_one_logit_per_pixel(encoder):
    model = UNet(encoder).eval()
    assert model(torch.randn(2, 3, 64, 48)).shape == (2, 1, 64, 48)
    assert model(torch.randn(1, 3, 40, 56)).shape == (1, 1, 40, 56)   # not multiples of 32


def test_flip_averaging_commutes_with_flipping_the_image():
    torch.manual_seed(0)
    model = UNet("resnet18").eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        averaged = flip_averaged_probability(model, x)
        mirrored = flip_averaged_probability(model, x.flip(3))
        plain = torch.sigmoid(model(x))[:, 0]
    assert averaged.shape == (2, 64, 64)
    torch.testing.assert_close(mirrored, averaged.flip(2), rtol=0, atol=1e-5)
    assert not torch.allclose(averaged, plain, atol=1e-4)   # an untrained net is not symmetric


def test_weight_averaging_keeps_the_average_not_the_last_weights(manifest_csv):
    rows = pd.read_csv(manifest_csv)
    train_rows, val_rows = rows[rows.split == "train"], rows[rows.split == "val"]
    cfg = {**CFG, "epochs": 1, "batch_size": 4, "ema_decay": 0.5}
    model, _ = fit_unet(UNet("resnet18"), train_rows, val_rows, cfg, "cpu", seed=0,
                        resume=ResumeFile(None, ""))
    plain, _ = fit_unet(UNet("resnet18"), train_rows, val_rows, {**cfg, "ema_decay": None}, "cpu",
                        seed=0, resume=ResumeFile(None, ""))
    averaged, last = model.state_dict(), plain.state_dict()
    assert any(not torch.equal(averaged[k], last[k]) for k in averaged)


def test_training_lowers_the_loss_on_discs(manifest_csv):
    train_rows, val_rows = splits(manifest_csv)
    torch.manual_seed(0)
    cfg = {**CFG, "epochs": 5, "batch_size": 8}
    _, history = fit_unet(UNet("resnet18"), train_rows, val_rows, cfg, "cpu", seed=0,
                          resume=ResumeFile(None, ""))
    assert list(history.columns) == ["epoch", *unet.HISTORY_COLUMNS, "lr"]
    assert history.train_loss.iloc[-1] < 0.8 * history.train_loss.iloc[0]
    assert history.train_dice.iloc[-1] > history.train_dice.iloc[0] + 0.2


def test_same_seed_gives_byte_identical_outputs(manifest_csv, tmp_path):
    for name in ("a", "b"):
        train_unet(manifest_csv, *outputs(tmp_path, name), CFG, "cpu", seed=5)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    a, b = (load_unet(tmp_path / f"{n}.pt")[0].state_dict() for n in "ab")
    assert all(torch.equal(a[k], b[k]) for k in a)
    train_unet(manifest_csv, *outputs(tmp_path, "c"), CFG, "cpu", seed=6)
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()


def test_a_killed_training_resumes_to_the_same_model(manifest_csv, tmp_path, monkeypatch):
    train_unet(manifest_csv, *outputs(tmp_path, "whole"), CFG, "cpu", seed=5)
    real, calls = epochs.run_pass, []

    def dies_in_epoch_two(*args, **kwargs):
        calls.append(1)
        if len(calls) > 3:   # epoch 1 = train + val call; epoch 2 dies in validation
            raise KeyboardInterrupt("simulated kill")
        return real(*args, **kwargs)

    monkeypatch.setattr(epochs, "run_pass", dies_in_epoch_two)
    resume = tmp_path / "last_epoch.pt"
    with pytest.raises(KeyboardInterrupt):
        train_unet(manifest_csv, *outputs(tmp_path, "killed"), CFG, "cpu", seed=5,
                   resume_path=resume)
    assert torch.load(resume, weights_only=True)["epoch"] == 1
    monkeypatch.setattr(epochs, "run_pass", real)
    train_unet(manifest_csv, *outputs(tmp_path, "killed"), CFG, "cpu", seed=5, resume_path=resume)
    assert not resume.exists()   # removed once the outputs exist
    assert (tmp_path / "whole.csv").read_bytes() == (tmp_path / "killed.csv").read_bytes()
    a, b = (load_unet(tmp_path / f"{n}.pt")[0].state_dict() for n in ("whole", "killed"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_masks_are_binary_at_each_image_size(manifest_csv, tmp_path):
    train_unet(manifest_csv, *outputs(tmp_path, "m"), {**CFG, "epochs": 1}, "cpu", seed=0)
    manifest = pd.read_csv(manifest_csv)
    test = manifest[manifest.split == "test"]
    segment_unet_shard(manifest, tmp_path / "m.pt", "test000", len(test), tmp_path / "masks",
                       batch_size=3, device="cpu")
    written = sorted(p.stem for p in (tmp_path / "masks").glob("*.png"))
    assert written == sorted(test.image_id)
    for row in test.itertuples():
        mask = cv2.imread(str(tmp_path / "masks" / f"{row.image_id}.png"), cv2.IMREAD_UNCHANGED)
        assert mask.shape == (row.height, row.width)
        assert set(np.unique(mask)) <= {0, 255}
    segment_unet_shard(manifest, tmp_path / "m.pt", "test001", len(test), tmp_path / "empty",
                       batch_size=3, device="cpu")
    assert (tmp_path / "empty").is_dir() and not any((tmp_path / "empty").iterdir())


def test_pretrained_encoder_weights_load_and_bad_files_are_named(tmp_path):
    torch.manual_seed(1)
    imagenet = models.resnet18(weights=None)
    torch.save(imagenet.state_dict(), tmp_path / "r18.pth")
    model = UNet("resnet18", tmp_path / "r18.pth")
    assert torch.equal(model.stem[0].weight, imagenet.conv1.weight)
    assert torch.equal(model.layers[3][1].conv2.weight, imagenet.layer4[1].conv2.weight)
    (tmp_path / "junk.pth").write_bytes(b"not weights")
    with pytest.raises(ValueError, match="junk.pth: not a loadable torch weights file"):
        UNet("resnet18", tmp_path / "junk.pth")
    with pytest.raises(ValueError, match="r18.pth: weights do not fit resnet34"):
        UNet("resnet34", tmp_path / "r18.pth")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        UNet("resnet18", tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="r18.pth: not an xaicut checkpoint"):
        load_unet(tmp_path / "r18.pth")


def test_a_lone_last_training_image_is_left_out_of_the_epoch(manifest_csv):
    """At 32 px the encoder's bottleneck is 1x1: batch norm cannot train on one image."""
    train_rows, val_rows = splits(manifest_csv)
    cfg = {**CFG, "epochs": 1, "batch_size": len(train_rows) - 1}   # the last batch: one image
    _, history = fit_unet(UNet("resnet18"), train_rows, val_rows, cfg, "cpu", seed=0,
                          resume=ResumeFile(None, ""))
    assert len(history) == 1 and np.isfinite(history.train_loss.iloc[0])
