"""Deletion faithfulness of attribution maps (the deletion idea of paper 003).

If a map is faithful, hiding the pixels it ranks highest should lower the classifier's confidence
more than hiding as many random pixels. For each image, method and fraction ``k`` the top ``k`` of
the map's pixels (at the model's input size) are replaced by a Gaussian-blurred copy of the image
and the softmax probability of the predicted class is measured again; ``drop`` is the original
minus the new probability (positive = the deleted pixels mattered). Method ``random`` deletes
``k`` of the pixels chosen at random (seeded), the baseline every method should beat.

Output columns (``DELETION_COLUMNS``, one row per image, method and fraction): ``image_id,
method, fraction, predicted_class, probability, deleted_probability, drop``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torchvision.transforms.functional import gaussian_blur

DELETION_COLUMNS = ("image_id", "method", "fraction", "predicted_class", "probability",
                    "deleted_probability", "drop")
RANDOM_BASELINE = "random"


def blurred_copy(batch: torch.Tensor) -> torch.Tensor:
    """Gaussian blur of a (B, C, h, w) batch with sigma = h / 16 (what deleted pixels become)."""
    sigma = max(1.0, batch.shape[-1] / 16)
    kernel = 2 * int(3 * sigma) + 1
    return gaussian_blur(batch, [kernel, kernel], [sigma, sigma])


def top_fraction_mask(scores: torch.Tensor, fraction: float) -> torch.Tensor:
    """Bool (B, h, w): per image the ``round(fraction * h * w)`` pixels of highest score."""
    flat = scores.flatten(1)
    count = int(round(fraction * flat.shape[1]))
    mask = torch.zeros_like(flat, dtype=torch.bool)
    if count > 0:
        mask.scatter_(1, flat.topk(count, dim=1).indices, True)
    return mask.view_as(scores)


def predicted_probability(model: nn.Module, batch: torch.Tensor,
                          classes: torch.Tensor) -> np.ndarray:
    """Softmax probability (B,) of ``classes`` (B,) for ``batch``."""
    with torch.no_grad():
        probs = torch.softmax(model(batch), 1)
    return probs.gather(1, classes[:, None])[:, 0].cpu().numpy()


def deletion_scores(model: nn.Module, batch: torch.Tensor, probabilities: np.ndarray,
                    image_ids: Sequence[str], maps: dict[str, np.ndarray],
                    fractions: Sequence[float], generator: torch.Generator) -> pd.DataFrame:
    """Deletion table (module docstring) for one batch.

    ``batch``: model inputs (B, C, h, w) on the model's device; ``probabilities``: the model's
    softmax output (B, classes) for ``batch``, already computed by the caller; ``maps``: per
    method float maps (B, h, w) at input size; ``generator``: seeded CPU generator of the random
    baseline.
    """
    predicted = torch.as_tensor(probabilities.argmax(1), device=batch.device)
    original = probabilities[np.arange(len(probabilities)), probabilities.argmax(1)]
    blurred = blurred_copy(batch)
    shape = (batch.shape[0], *batch.shape[-2:])
    scores = {name: torch.as_tensor(values, dtype=torch.float32) for name, values in maps.items()}
    scores[RANDOM_BASELINE] = torch.rand(shape, generator=generator)
    rows = []
    for name, score in scores.items():
        for fraction in fractions:
            mask = top_fraction_mask(score, fraction)[:, None].to(batch.device)
            deleted = predicted_probability(model, torch.where(mask, blurred, batch), predicted)
            rows += [(image_id, name, float(fraction), int(cls), float(p), float(q), float(p - q))
                     for image_id, cls, p, q in zip(image_ids, predicted.tolist(), original,
                                                    deleted)]
    return pd.DataFrame(rows, columns=list(DELETION_COLUMNS))


def summarise_deletion(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and median probability drop per method and fraction, with the image count, and the
    mean drop minus the random baseline's at the same fraction (``drop_vs_random``)."""
    summary = (table.groupby(["method", "fraction"]).drop
               .agg(n_images="count", drop_mean="mean", drop_median="median").reset_index())
    baseline = summary[summary.method == RANDOM_BASELINE].set_index("fraction").drop_mean
    summary["drop_vs_random"] = summary.drop_mean - summary.fraction.map(baseline)
    return summary
