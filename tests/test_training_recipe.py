"""The label-only training recipe switches: balanced sampling, class weights, online
augmentation, colour constancy, optimizer and schedule, and model selection on balanced accuracy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from conftest import train_settings
from xaicut import CLASSES
from xaicut.classifier_training import ClassificationObjective, build_optimizer, training_loss
from xaicut.epochs import ResumeFile, class_balanced_sampler, ema_model, run_pass, train_epochs
from xaicut.model import build_classifier
from xaicut.preprocess import load_image_tensor, online_augmentation, shades_of_gray


def test_balanced_sampler_draws_every_class_about_equally_often():
    labels = [0] * 900 + [1] * 90 + [2] * 10
    sampler = class_balanced_sampler(labels, torch.Generator().manual_seed(0))
    drawn = np.bincount(np.asarray(labels)[list(sampler)], minlength=3)
    assert drawn.sum() == len(labels)
    assert np.all(np.abs(drawn / drawn.sum() - 1 / 3) < 0.05), drawn


def test_class_weights_are_inverse_frequency_with_mean_one_per_image():
    labels = [0] * 6 + [1] * 3 + [3] * 1
    loss = training_loss(labels, train_settings(class_weights=True), 7)
    weight = loss.weight.numpy()
    assert weight[2] == 0
    assert weight[0] * 6 == pytest.approx(weight[1] * 3) == pytest.approx(weight[3])
    assert (weight[labels]).mean() == pytest.approx(1.0)
    assert training_loss(labels, train_settings(), 7).weight is None


def test_online_augmentation_keeps_shape_and_is_seeded():
    image = torch.randint(0, 256, (3, 40, 40), dtype=torch.uint8)
    augment = online_augmentation(40)
    torch.manual_seed(1)
    first = augment(image)
    torch.manual_seed(1)
    again = augment(image)
    assert first.shape == image.shape and first.dtype == torch.uint8
    assert torch.equal(first, again)
    assert not all(torch.equal(augment(image), image) for _ in range(5))


@pytest.mark.parametrize("optimizer, scheduler", [("sgd", "plateau"), ("adamw", "cosine")])
def test_optimizer_and_schedule_follow_the_config(optimizer, scheduler):
    model = torch.nn.Linear(2, 2)
    cfg = train_settings(optimizer=optimizer, scheduler=scheduler, lr=0.1, epochs=4)
    opt, sched = build_optimizer(model, cfg)
    assert type(opt).__name__.lower() == optimizer
    if scheduler == "cosine":
        for _ in range(4):
            opt.step()
            sched.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    else:
        assert isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)


def test_a_classification_pass_reports_balanced_accuracy():
    """A model that always predicts class 0: accuracy is the class-0 share, balanced accuracy
    1/2."""
    model = torch.nn.Linear(4, len(CLASSES))
    torch.nn.init.zeros_(model.weight)
    with torch.no_grad():
        model.bias.copy_(torch.tensor([1.0] + [0.0] * (len(CLASSES) - 1)))
    x, y = torch.zeros(10, 4), torch.tensor([0] * 8 + [1] * 2)
    stats = run_pass(model, [(x, y)], "cpu", ClassificationObjective())
    assert stats["accuracy"] == pytest.approx(0.8)
    assert stats["balanced_accuracy"] == pytest.approx(0.5)


@pytest.mark.parametrize("monitor, best",
                         [("val_loss", 2), ("val_balanced_accuracy", 3), ("last", 4)])
def test_the_monitored_column_picks_the_best_epoch(monitor, best):
    model = build_classifier("resnet18", len(CLASSES))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    scripted = iter([(0.9, 0.2), (0.5, 0.3), (0.7, 0.6), (0.8, 0.4)])  # (val_loss, balanced)

    def one_epoch() -> dict[str, float]:
        loss, balanced = next(scripted)
        with torch.no_grad():  # mark the model state of each epoch
            model.fc.bias.fill_(loss)
        return {"val_loss": loss, "val_balanced_accuracy": balanced}

    model, history = train_epochs(model, optimizer, torch.Generator(), one_epoch,
                                  ["val_loss", "val_balanced_accuracy"], epochs=4, patience=10,
                                  resume=ResumeFile(None, ""), monitor=monitor)
    assert len(history) == 4
    chosen = pd.Series(model.fc.bias.detach().numpy()).unique()
    assert chosen.tolist() == pytest.approx([history.val_loss[best - 1]])


def test_ema_model_averages_the_weights_after_every_optimiser_step():
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    averaged = ema_model(model, optimizer, decay=0.5)
    for _ in range(3):  # the weight climbs 1, 2, 3
        optimizer.zero_grad()
        (-model.weight.sum()).backward()
        optimizer.step()
    assert model.weight.item() == pytest.approx(3.0)
    assert averaged.module.weight.item() == pytest.approx(0.5 * (0.5 * 1 + 0.5 * 2) + 0.5 * 3)


def test_with_an_average_its_weights_of_the_best_epoch_are_returned():
    model = torch.nn.Linear(1, 1, bias=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    averaged = ema_model(model, optimizer, decay=0.5)
    scripted = iter([0.9, 0.5, 0.7])  # val_loss; the average of epoch 2 is marked 20

    def one_epoch() -> dict[str, float]:
        loss = next(scripted)
        with torch.no_grad():
            model.weight.fill_(loss)
            averaged.module.weight.fill_(loss * 40)
        return {"val_loss": loss}

    model, _ = train_epochs(model, optimizer, torch.Generator(), one_epoch, ["val_loss"], epochs=3,
                            patience=10, resume=ResumeFile(None, ""), averaged=averaged)
    assert model.weight.item() == pytest.approx(20.0)


@pytest.mark.parametrize("power", [1.0, 6.0])
def test_shades_of_gray_makes_a_colour_cast_neutral(power):
    """A grey scene under a reddish light: after correction the channels' power-means agree
    (the illuminant is neutral); a neutral image keeps its values."""
    rng = np.random.default_rng(0)
    scene = rng.uniform(40, 160, (30, 40, 1)).astype(np.float32)
    cast = np.clip(scene * np.array([1.4, 1.0, 0.7]), 0, 255).astype(np.uint8)
    corrected = shades_of_gray(cast, power)
    assert corrected.dtype == np.uint8 and corrected.shape == cast.shape
    means = np.power(np.mean(np.power(corrected.astype(np.float64), power), axis=(0, 1)), 1 / power)
    assert means.max() - means.min() < 2.0, means
    raw = np.power(np.mean(np.power(cast.astype(np.float64), power), axis=(0, 1)), 1 / power)
    assert raw.max() - raw.min() > 40
    grey = np.repeat(scene.astype(np.uint8), 3, axis=2)
    assert np.abs(shades_of_gray(grey, power).astype(int) - grey).max() <= 1


def test_the_model_input_applies_colour_constancy_only_when_set(tmp_path):
    rng = np.random.default_rng(1)
    image = np.clip(rng.uniform(60, 140, (24, 32, 1)) * [1.3, 1.0, 0.8], 0, 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "cast.png")
    plain = load_image_tensor(str(tmp_path / "cast.png"), 16)
    corrected = load_image_tensor(str(tmp_path / "cast.png"), 16, color_constancy=6.0)
    assert plain.shape == corrected.shape == (3, 16, 16)
    # ImageNet-normalised channel means: the red excess is gone after correction
    assert plain[0].mean() - plain[2].mean() > corrected[0].mean() - corrected[2].mean() + 0.5
