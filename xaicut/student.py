"""Stages ``student`` and ``student_graphcut``: self-training on the pipeline's own masks.

A segmentation network (the U-Net of ``xaicut.unet``) learns from the label-only chain's masks of
the train and validation images, never from a ground-truth mask (papers 004 §3.4-3.5, RABC-Net):
it sees thousands of noisy masks and learns what a lesion looks like across images, averaging out
each mask's own errors. Three steps, each one function:

- :func:`build_pseudo_labels` turns a *teacher* stage's masks (a graph cut) into pseudo-labels:
  per image a PNG of 0 (skin), 255 (lesion) and 128 (left out of the loss: the region where the
  pipeline's evidence disagrees, or a band around the teacher's boundary, :func:`ignore_region`),
  and keeps the most confident training images by the label-free confidence
  (``xaicut.confidence``);
- :func:`train_student` fits the U-Net on the kept training pseudo-labels and early-stops on the
  validation images' pseudo-labels;
- :func:`segment_student_shard` writes, per image, the student's thresholded output (stage
  ``student``) and a graph cut seeded by its probability (stage ``student_graphcut``).

Contracts: ``docs/data-contracts.md`` §6c.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from xaicut.confidence import segmentation_confidence
from xaicut.epochs import ResumeFile, training_fingerprint
from xaicut.graphcut import GraphCutParams, graph_cut_refine
from xaicut.io import read_mask, read_rgb, write_image, write_mask
from xaicut.masks import disk
from xaicut.seeds import (
    ImageEvidence,
    Seed,
    SeedParams,
    clean_seed,
    hard_seed,
    otsu_only_seed,
    scaled_length,
)
from xaicut.segment import STATUS_COLUMNS
from xaicut.shards import shard_rows
from xaicut.unet import IGNORE, MaskTable, fit_and_save, load_unet, predict_probabilities

log = logging.getLogger(__name__)

IGNORE_MODES = ("none", "disagreement", "boundary")
"""``student.ignore``: which pixels of a pseudo-label are left out of the loss."""
LESION, UNCERTAIN, SKIN = 255, 128, 0
"""Pixel values of a pseudo-label PNG."""
PSEUDO_LABEL_COLUMNS = ["image_id", "split", "label", "image_path", "width", "height",
                        "mask_path", "confidence", "ignored_fraction", "kept"]
"""Columns of ``pseudo_labels.csv`` (contracts §6c)."""


def ignore_region(teacher: np.ndarray, evidence: np.ndarray, mode: str,
                  band_fraction: float) -> np.ndarray:
    """Pixels of a pseudo-label left out of the loss, bool (H, W).

    ``teacher``: bool (H, W), the mask the student learns; ``evidence``: bool (H, W), an
    independent mask of the same image (the Otsu lesion). ``mode`` ``none``: nothing;
    ``disagreement``: where ``teacher`` and ``evidence`` differ; ``boundary``: a band of
    ``band_fraction`` of the longest side on each side of the teacher's boundary.
    """
    if mode not in IGNORE_MODES:
        raise ValueError(f"ignore mode must be one of {IGNORE_MODES}, got {mode!r}")
    if mode == "none":
        return np.zeros(teacher.shape, dtype=bool)
    if mode == "disagreement":
        return teacher != evidence
    footprint = disk(max(1, scaled_length(teacher.shape, band_fraction)))
    mask = teacher.astype(np.uint8)
    return cv2.dilate(mask, footprint) != cv2.erode(mask, footprint)


def pseudo_label(teacher: np.ndarray, ignored: np.ndarray) -> np.ndarray:
    """uint8 (H, W) pseudo-label PNG content: ``LESION`` / ``SKIN`` from ``teacher``, ``UNCERTAIN``
    where ``ignored`` (both bool (H, W))."""
    label = np.where(teacher, LESION, SKIN).astype(np.uint8)
    label[ignored] = UNCERTAIN
    return label


class PseudoLabelTable(MaskTable):
    """Pseudo-label rows as (image tensor, target of 0 / 1 / ``xaicut.unet.IGNORE``)."""

    @staticmethod
    def read_target(path: str) -> np.ndarray:
        label = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if label is None:
            raise ValueError(f"{path}: not a readable pseudo-label image")
        target = (label > UNCERTAIN).astype(np.float32)
        target[label == UNCERTAIN] = IGNORE
        return target


def keep_most_confident(table: pd.DataFrame, keep_fraction: float) -> pd.Series:
    """Bool column: the ``keep_fraction`` most confident non-empty rows of each split (at least
    one per split when any is non-empty); ties keep table order."""
    kept = pd.Series(False, index=table.index)
    for _, rows in table[table.confidence > 0].groupby("split"):
        n = max(1, int(round(keep_fraction * len(rows))))
        kept[rows.sort_values("confidence", ascending=False, kind="stable").index[:n]] = True
    return kept


def build_pseudo_labels(manifest: pd.DataFrame, teacher_dirs: list[str | os.PathLike],
                        evidence_dirs: list[str | os.PathLike], out_dir: str | os.PathLike,
                        ignore: str, band_fraction: float, keep_fraction: float) -> pd.DataFrame:
    """Write one pseudo-label PNG per image of the teacher's mask folders to ``out_dir`` and
    return the ``PSEUDO_LABEL_COLUMNS`` table.

    ``manifest``: the dataset's manifest (contracts §2); ``teacher_dirs`` / ``evidence_dirs``:
    per-shard folders of ``{image_id}.png`` masks, in the same order (the teacher's masks and
    the Otsu lesions of the same shards). ``ignore`` / ``band_fraction``: :func:`ignore_region`;
    ``keep_fraction``: :func:`keep_most_confident`, by the label-free confidence of the teacher's
    mask (an empty mask has confidence 0 and is never kept). Reads no ground-truth mask.
    """
    rows = manifest.set_index("image_id")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    pairs = [(t, e, p.stem) for t, e in zip(teacher_dirs, evidence_dirs)
             for p in sorted(Path(t).glob("*.png"))]
    for teacher_dir, evidence_dir, image_id in tqdm(pairs, desc="pseudo-labels", unit="img"):
        row = rows.loc[image_id]
        teacher = read_mask(Path(teacher_dir) / f"{image_id}.png")
        ignored = ignore_region(teacher, read_mask(Path(evidence_dir) / f"{image_id}.png"),
                                ignore, band_fraction)
        path = out / f"{image_id}.png"
        write_image(pseudo_label(teacher, ignored), path, rgb=False)
        records.append((image_id, row.split, row.label, row.image_path, row.width, row.height,
                        str(path), segmentation_confidence(teacher, read_rgb(row.image_path)),
                        float(ignored.mean()), False))
    table = pd.DataFrame(records, columns=PSEUDO_LABEL_COLUMNS)
    table["kept"] = keep_most_confident(table, keep_fraction)
    kept = ", ".join("%d of %d %s" % (*kept_counts(table, split), split)
                     for split in table.split.unique())
    log.info("pseudo-labels of %d images (ignore %s: %.1f %% of pixels); kept %s", len(table),
             ignore, 100 * table.ignored_fraction.mean(), kept)
    return table


def kept_counts(table: pd.DataFrame, split: str) -> tuple[int, int]:
    """(kept, all) rows of ``split`` in a pseudo-label table."""
    rows = table[table.split == split]
    return int(rows.kept.sum()), len(rows)


def kept_rows(pseudo_labels_csv: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The kept rows of a pseudo-label table that teach (every split but ``val``: the training
    images, and the test images of a transductive run) and the kept validation rows;
    ``ValueError`` naming the file when either is empty."""
    table = pd.read_csv(pseudo_labels_csv)
    kept = table[table.kept]
    train_rows, val_rows = kept[kept.split != "val"], kept[kept.split == "val"]
    if train_rows.empty or val_rows.empty:
        raise ValueError(f"{pseudo_labels_csv}: the student needs kept pseudo-labels of training "
                         f"and validation images; found {len(train_rows)} and {len(val_rows)}")
    return train_rows, val_rows


def train_student(pseudo_labels_csv: str | os.PathLike, model_path: str | os.PathLike,
                  history_path: str | os.PathLike, cfg: dict, device: str, seed: int,
                  resume_path: str | os.PathLike | None = None,
                  initial: str | os.PathLike | None = None,
                  encoder_weights: str | os.PathLike | None = None) -> None:
    """Fit the student U-Net on the kept training pseudo-labels, early-stopped on the kept
    validation pseudo-labels; write the checkpoint to ``model_path`` and the history to
    ``history_path`` (as ``xaicut.unet.train_unet``). ``cfg``: the ``student`` config section;
    ``initial``: a student checkpoint to fine-tune instead of new weights; ``encoder_weights``: a
    classifier checkpoint (``xaicut.model.save_checkpoint`` of a plain ResNet ``cfg["encoder"]``)
    whose body starts the encoder, in place of ``cfg["pretrained_weights"]``."""
    train_rows, val_rows = kept_rows(pseudo_labels_csv)
    if encoder_weights is not None:
        cfg = {**cfg, "pretrained_weights": str(encoder_weights)}
    log.info("%s the student (%s, encoder from %s) on the pseudo-labels of %d images, "
             "validating on %d", "training" if initial is None else "fine-tuning", cfg["encoder"],
             initial or cfg["pretrained_weights"] or "scratch", len(train_rows), len(val_rows))
    resume = ResumeFile(resume_path, training_fingerprint(pseudo_labels_csv, cfg, device, seed))
    fit_and_save(train_rows, val_rows, model_path, history_path, cfg, device, seed, resume,
                 PseudoLabelTable, initial)


def holdout_split(image_ids: pd.Series, val_fraction: float, seed: int) -> pd.Series:
    """``train`` / ``val`` per image of a collection without splits (an external dataset): a
    seeded random ``val_fraction`` (at least one image) held out to early-stop on."""
    n_val = max(1, int(round(val_fraction * len(image_ids))))
    order = np.random.default_rng(seed).permutation(len(image_ids))
    split = np.full(len(image_ids), "train", dtype=object)
    split[order[:n_val]] = "val"
    return pd.Series(split, index=image_ids.index)


def student_seed(probability: np.ndarray, image: np.ndarray, params: SeedParams) -> Seed:
    """Graph-cut seed from a student's lesion probability (float (H, W) in [0, 1]) for ``image``
    (uint8 RGB (H, W, 3)): certain lesion where the probability is at least ``params.high``
    (cleaned as every seed, ``xaicut.seeds``), certain skin where at most ``params.low`` or in the
    vignette. Where the student is nowhere that sure, the Otsu lesion is the soft seed (status
    ``otsu_only``, as a map without certain lesion in mode ``trimap_otsu``).
    """
    evidence = ImageEvidence(image, params)
    min_area = int(params.min_area_fraction * probability.size)
    certain_fg, status = clean_seed(probability >= params.high, min_area, evidence.vignette)
    if certain_fg.any():
        return hard_seed(certain_fg, (probability <= params.low) | evidence.vignette, status)
    return otsu_only_seed(evidence.lesion)


def segment_student_shard(manifest: pd.DataFrame, model_path: str | os.PathLike, shard: str,
                          shard_size: int, out_dirs: dict[str, str | os.PathLike],
                          batch_size: int, device: str, seed_params: SeedParams,
                          params: GraphCutParams, flip_average: bool = False) -> pd.DataFrame:
    """Write a student's two stages for every image of ``shard`` and return the graph cut's
    status table (``xaicut.segment.STATUS_COLUMNS``).

    ``out_dirs``: two stage names (``xaicut.shards.student_stage_names``) → mask folder, in order:
    the probability above 0.5, then the graph cut seeded by :func:`student_seed` (0/255 PNG,
    image size). ``flip_average``: the probability averaged over four flips of the image
    (``xaicut.unet.flip_averaged_probability``).
    """
    model, meta = load_unet(model_path, device)
    rows = shard_rows(manifest, shard, shard_size)
    paths = rows.set_index("image_id")["image_path"]
    (thresholded, thresholded_dir), (refined, refined_dir) = out_dirs.items()
    for folder in out_dirs.values():
        Path(folder).mkdir(parents=True, exist_ok=True)
    records = []
    predictions = predict_probabilities(model, rows, meta["input_size"], batch_size, device,
                                        flip_average)
    for image_id, probability in tqdm(predictions, desc=thresholded, unit="img", total=len(rows)):
        write_mask(probability > 0.5, Path(thresholded_dir) / f"{image_id}.png")
        start = time.perf_counter()
        image = read_rgb(paths[image_id])
        seed = student_seed(probability, image, seed_params)
        result = graph_cut_refine(image, seed.initial, params, seed.certain_fg, seed.certain_bg)
        write_mask(result.mask, Path(refined_dir) / f"{image_id}.png")
        records.append((image_id, refined, seed.status, result.status, result.iterations,
                        result.changed_ratio, round(time.perf_counter() - start, 4)))
    log.info("%s masks of %d images of %s written", thresholded, len(rows), shard)
    return pd.DataFrame(records, columns=list(STATUS_COLUMNS))
