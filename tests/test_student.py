"""Self-training student: pseudo-labels, selection, ignored pixels, learning from noisy masks,
resume, and the two stages it writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import write_tiny_release
from xaicut import epochs
from xaicut.graphcut import GraphCutParams
from xaicut.ingest import build_manifest
from xaicut.io import read_mask, write_image, write_mask
from xaicut.metrics import mask_metrics
from xaicut.model import build_classifier, save_checkpoint
from xaicut.seeds import SeedParams
from xaicut.student import (
    IGNORE_MODES,
    PSEUDO_LABEL_COLUMNS,
    PseudoLabelTable,
    build_pseudo_labels,
    holdout_split,
    ignore_region,
    keep_most_confident,
    kept_rows,
    pseudo_label,
    segment_student_shard,
    student_seed,
    train_student,
)
from xaicut.unet import IGNORE, hard_dice, segmentation_loss

CFG = dict(encoder="resnet18", pretrained_weights=None, input_size=32, batch_size=8, epochs=12,
           optimizer="adam", lr=0.003, momentum=0.9, flip=True, early_stopping_patience=12,
           ema_decay=0.9)


def disc(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 < radius ** 2


def test_ignore_regions():
    teacher = disc((60, 80), (30, 40), 15)
    evidence = disc((60, 80), (30, 44), 15)
    assert not ignore_region(teacher, evidence, "none", 0.05).any()
    assert np.array_equal(ignore_region(teacher, evidence, "disagreement", 0.05),
                          teacher != evidence)
    band = ignore_region(teacher, evidence, "boundary", 0.05)   # 4 px each side of the rim
    assert band[30, 40 + 15] and band[30, 40 + 12] and band[30, 40 + 18]
    assert not band[30, 40] and not band[0, 0]
    assert set(IGNORE_MODES) == {"none", "disagreement", "boundary"}
    with pytest.raises(ValueError, match="ignore mode"):
        ignore_region(teacher, evidence, "random", 0.05)


def test_pseudo_label_png_reads_back_as_targets(tmp_path):
    teacher = disc((20, 30), (10, 15), 6)
    ignored = np.zeros_like(teacher)
    ignored[:, :5] = True
    write_image(pseudo_label(teacher, ignored), tmp_path / "p.png", rgb=False)
    target = PseudoLabelTable.read_target(str(tmp_path / "p.png"))
    assert set(np.unique(target)) == {0.0, 1.0, IGNORE}
    assert np.array_equal(target == IGNORE, ignored)
    assert np.array_equal(target == 1.0, teacher & ~ignored)


def test_ignored_pixels_do_not_count_in_loss_or_dice():
    torch.manual_seed(0)
    target = (torch.rand(2, 1, 16, 16) > 0.5).float()
    target[:, :, :4] = IGNORE
    logits = torch.randn(2, 1, 16, 16)
    changed = logits.clone()
    changed[:, :, :4] = torch.randn(2, 1, 4, 16) * 10   # only ignored pixels change
    assert torch.allclose(segmentation_loss(logits, target), segmentation_loss(changed, target))
    assert torch.equal(hard_dice(logits, target), hard_dice(changed, target))
    plain = (torch.rand(2, 1, 16, 16) > 0.5).float()    # a mask without IGNORE: the old loss
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, plain,
                                                               reduction="none").mean((1, 2, 3))
    assert torch.all(segmentation_loss(logits, plain) > bce)


def test_most_confident_fraction_is_kept_per_split_and_empty_masks_never():
    table = pd.DataFrame({"split": ["train"] * 10 + ["val"] * 4,
                          "confidence": [*np.linspace(0.1, 1.0, 9), 0.0, 0.0, 0.3, 0.9, 0.5]})
    kept = keep_most_confident(table, 0.5)
    assert kept[table.split == "train"].sum() == 4   # half of the 9 non-empty, rounded
    assert set(table.confidence[kept & (table.split == "train")]) == set(
        np.linspace(0.1, 1.0, 9)[-4:])
    assert kept[table.split == "val"].sum() == 2 and not kept[10]


def test_every_kept_split_but_validation_teaches(tmp_path):
    """A transductive table (test rows too): test rows teach, validation rows stay held out."""
    table = pd.DataFrame({"image_id": list("abcdef"), "kept": [True, True, False, True, True,
                                                                 True],
                          "split": ["train", "train", "train", "val", "test", "test"]})
    table.to_csv(tmp_path / "p.csv", index=False)
    teach, held_out = kept_rows(tmp_path / "p.csv")
    assert list(teach.image_id) == ["a", "b", "e", "f"] and list(held_out.image_id) == ["d"]
    table[table.split != "val"].to_csv(tmp_path / "no_val.csv", index=False)
    with pytest.raises(ValueError, match="no_val.csv"):
        kept_rows(tmp_path / "no_val.csv")


@pytest.fixture(scope="module")
def noisy_teacher(tmp_path_factory):
    """The tiny release (a centred dark disc per image) with a manifest, and per image a noisy
    teacher mask: the disc shifted, rescaled and joined by a stray blob, as a graph cut errs."""
    root = tmp_path_factory.mktemp("student")
    write_tiny_release(root / "ham", lesions_per_class=6, size=(48, 36))
    manifest = build_manifest(root / "ham", val=0.2, test=0.2, seed=0)
    rng = np.random.default_rng(3)
    teacher = root / "teacher"
    for row in manifest.itertuples():
        shape = (row.height, row.width)
        noisy = disc(shape, (shape[0] / 2 + rng.normal(0, 3), shape[1] / 2 + rng.normal(0, 3)),
                     shape[0] / 3.5 * rng.uniform(0.7, 1.3))
        noisy |= disc(shape, (rng.uniform(0, shape[0]), rng.uniform(0, shape[1])), 4)
        write_mask(noisy, teacher / f"{row.image_id}.png")
    return root, manifest


def truth_dice(manifest: pd.DataFrame, folder) -> float:
    return float(np.mean([mask_metrics(read_mask(folder / f"{r.image_id}.png"),
                                       read_mask(r.mask_path))["dice"]
                          for r in manifest.itertuples()]))


def test_student_learns_the_shape_better_than_its_noisy_teacher(noisy_teacher, tmp_path):
    root, manifest = noisy_teacher
    table = build_pseudo_labels(manifest, [root / "teacher"], [root / "teacher"],
                                tmp_path / "pseudo", "none", 0.02, keep_fraction=1.0)
    assert list(table.columns) == PSEUDO_LABEL_COLUMNS
    assert set(table.image_id) == set(manifest.image_id) and table.kept.all()
    table.to_csv(tmp_path / "pseudo.csv", index=False)
    model, history = tmp_path / "student.pt", tmp_path / "history.csv"
    train_student(tmp_path / "pseudo.csv", model, history, CFG, "cpu", seed=0)
    train = manifest[manifest.split == "train"]
    dirs = {"student": tmp_path / "student", "student_graphcut": tmp_path / "student_graphcut"}
    status = segment_student_shard(manifest, model, "train000", len(train), dirs, 8, "cpu",
                                   SeedParams(vignette=False), GraphCutParams(working_size=0))
    assert sorted(status.image_id) == sorted(train.image_id)
    teacher = truth_dice(train, root / "teacher")
    student = truth_dice(train, dirs["student"])
    assert student > teacher + 0.03, (student, teacher)
    assert truth_dice(train, dirs["student_graphcut"]) > teacher
    # fine-tuning (student.adapt) starts from the trained weights, not from new ones
    train_student(tmp_path / "pseudo.csv", tmp_path / "tuned.pt", tmp_path / "tuned.csv",
                  {**CFG, "epochs": 1}, "cpu", seed=0, initial=model)
    fresh, tuned_loss = pd.read_csv(history).val_loss, pd.read_csv(tmp_path / "tuned.csv").val_loss
    assert tuned_loss.iloc[0] < (fresh.iloc[0] + fresh.min()) / 2, (tuned_loss, fresh)


def test_a_killed_student_resumes_to_the_same_model(noisy_teacher, tmp_path, monkeypatch):
    root, manifest = noisy_teacher
    build_pseudo_labels(manifest, [root / "teacher"], [root / "teacher"], tmp_path / "pseudo",
                        "boundary", 0.05, keep_fraction=0.8).to_csv(tmp_path / "p.csv",
                                                                    index=False)
    cfg = {**CFG, "epochs": 2}

    def outputs(name):
        return tmp_path / f"{name}.pt", tmp_path / f"{name}.csv"

    train_student(tmp_path / "p.csv", *outputs("whole"), cfg, "cpu", seed=1)
    real, calls = epochs.run_pass, []

    def dies_in_epoch_two(*args, **kwargs):
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt("simulated kill")
        return real(*args, **kwargs)

    monkeypatch.setattr(epochs, "run_pass", dies_in_epoch_two)
    resume = tmp_path / "last_epoch.pt"
    with pytest.raises(KeyboardInterrupt):
        train_student(tmp_path / "p.csv", *outputs("killed"), cfg, "cpu", seed=1,
                      resume_path=resume)
    monkeypatch.setattr(epochs, "run_pass", real)
    train_student(tmp_path / "p.csv", *outputs("killed"), cfg, "cpu", seed=1, resume_path=resume)
    assert (tmp_path / "whole.csv").read_bytes() == (tmp_path / "killed.csv").read_bytes()
    a, b = (torch.load(tmp_path / f"{n}.pt", weights_only=True)["state_dict"]
            for n in ("whole", "killed"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_student_encoder_starts_from_the_classifier_body(noisy_teacher, tmp_path):
    root, manifest = noisy_teacher
    build_pseudo_labels(manifest, [root / "teacher"], [root / "teacher"], tmp_path / "pseudo",
                        "none", 0.02, 1.0).to_csv(tmp_path / "p.csv", index=False)
    torch.manual_seed(5)
    classifier = build_classifier("resnet18", num_classes=7)
    save_checkpoint(classifier, tmp_path / "classifier.pt", arch="resnet18",
                    classes=list("abcdefg"))
    # lr 0: the saved weights are the initial ones
    train_student(tmp_path / "p.csv", tmp_path / "m.pt", tmp_path / "h.csv",
                  {**CFG, "epochs": 1, "lr": 0.0}, "cpu", seed=0,
                  encoder_weights=tmp_path / "classifier.pt")
    student = torch.load(tmp_path / "m.pt", weights_only=True)["state_dict"]
    body = classifier.state_dict()
    assert torch.equal(student["stem.0.weight"], body["conv1.weight"])
    assert torch.equal(student["layers.3.1.conv2.weight"], body["layer4.1.conv2.weight"])


def test_no_kept_validation_pseudo_label_is_named(noisy_teacher, tmp_path):
    root, manifest = noisy_teacher
    table = build_pseudo_labels(manifest, [root / "teacher"], [root / "teacher"],
                                tmp_path / "pseudo", "none", 0.02, 1.0)
    table.assign(kept=table.kept & (table.split == "train")).to_csv(tmp_path / "p.csv",
                                                                    index=False)
    with pytest.raises(ValueError, match="p.csv: the student needs kept pseudo-labels"):
        train_student(tmp_path / "p.csv", tmp_path / "m.pt", tmp_path / "h.csv", CFG, "cpu",
                      seed=0)


def test_an_unsure_student_seeds_the_graph_cut_with_the_otsu_lesion():
    """Where the probability never reaches ``seeding.high`` the seed is the image's own Otsu
    lesion (status ``otsu_only``), not an empty mask."""
    lesion = disc((90, 120), (45, 60), 20)
    image = np.full((90, 120, 3), 200, dtype=np.uint8)
    image[lesion] = (90, 60, 40)
    params = SeedParams(vignette=False)
    sure = student_seed(np.where(lesion, 0.9, 0.1), image, params)
    assert sure.status == "ok" and np.array_equal(sure.certain_fg, lesion)
    assert sure.certain_bg.sum() == (~lesion).sum()
    unsure = student_seed(np.where(lesion, 0.5, 0.1), image, params)
    assert unsure.status == "otsu_only" and not unsure.certain_fg.any()
    assert mask_metrics(unsure.initial, lesion)["dice"] > 0.95
    flat = student_seed(np.full((90, 120), 0.2), np.full_like(image, 128), params)
    assert flat.status == "empty_seed" and not flat.initial.any()


def test_a_collection_without_splits_holds_out_a_seeded_tenth():
    ids = pd.Series([f"ISIC_{i:07d}" for i in range(25)])
    split = holdout_split(ids, 0.1, seed=3)
    assert list(split.index) == list(ids.index) and set(split) == {"train", "val"}
    assert (split == "val").sum() == 2 and split.equals(holdout_split(ids, 0.1, seed=3))
    assert not split.equals(holdout_split(ids, 0.1, seed=4))
    assert (holdout_split(ids[:3], 0.1, seed=0) == "val").sum() == 1     # never none
