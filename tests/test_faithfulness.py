"""Deletion faithfulness: top-k masks, the probability drop, the random baseline, the summary."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from xaicut.faithfulness import (
    DELETION_COLUMNS,
    deletion_scores,
    summarise_deletion,
    top_fraction_mask,
)


def softmax(model: nn.Module, batch: torch.Tensor) -> np.ndarray:
    """The class probabilities (B, classes) a caller of deletion_scores already has."""
    with torch.no_grad():
        return torch.softmax(model(batch), 1).numpy()


def test_top_fraction_mask_takes_exactly_the_highest_pixels():
    scores = torch.arange(20, dtype=torch.float32).reshape(1, 4, 5)
    mask = top_fraction_mask(scores, 0.25)
    assert mask.dtype == torch.bool and int(mask.sum()) == 5
    assert mask[0].flatten()[15:].all() and not mask[0].flatten()[:15].any()
    assert not top_fraction_mask(scores, 0.0).any()


class CornerDetector(nn.Module):
    """Class 1 logit = fine contrast in the top-left 8x8 corner: only those pixels matter
    (blurring them removes the contrast)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        corner = x[:, :, :8, :8]
        contrast = (corner[..., 1:] - corner[..., :-1]).abs().mean(dim=(1, 2, 3))
        return torch.stack([torch.zeros_like(contrast), 10 * contrast], dim=1)


def test_a_map_on_the_decisive_pixels_beats_random_and_wrong_maps():
    batch = torch.zeros(3, 3, 32, 32)
    batch[:, :, :8, 0:8:2] = 1.0  # striped corner -> class 1 with high probability
    right = np.zeros((3, 32, 32), np.float32)
    right[:, :8, :8] = 1.0
    wrong = np.zeros((3, 32, 32), np.float32)
    wrong[:, -8:, -8:] = 1.0
    model = CornerDetector()
    table = deletion_scores(model, batch, softmax(model, batch), ["a", "b", "c"],
                            {"right": right, "wrong": wrong}, [0.0625],
                            torch.Generator().manual_seed(0))
    assert list(table.columns) == list(DELETION_COLUMNS) and len(table) == 9
    assert (table.predicted_class == 1).all() and np.allclose(table.probability, 1.0, atol=1e-3)
    drop = table.groupby("method")["drop"].mean()
    assert drop["right"] > 0.3
    assert abs(drop["wrong"]) < 1e-6
    assert drop["right"] > drop["random"] + 0.2
    summary = summarise_deletion(table).set_index("method")
    assert summary.loc["right", "n_images"] == 3
    assert summary.loc["right", "drop_vs_random"] > 0.2
    assert summary.loc["random", "drop_vs_random"] == 0.0


def test_random_baseline_is_seeded():
    batch = torch.rand(2, 3, 16, 16)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 4))
    runs = [deletion_scores(model, batch, softmax(model, batch), ["a", "b"], {}, [0.2, 0.5],
                            torch.Generator().manual_seed(7)) for _ in range(2)]
    assert runs[0].equals(runs[1]) and set(runs[0].method) == {"random"}
