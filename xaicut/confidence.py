"""Label-free confidence of one segmentation: how much the pipeline's own evidence agrees.

No ground truth enters. For an exported mask ``M`` of an image, the pipeline has already made
other masks of the same image from partly independent evidence: the Otsu lesion (image colour
only), the attribution maps' fused mask (classifier only) and the graph cuts of the other seed
modes. Where they agree with ``M``, ``M`` is rarely wrong; where they scatter, or ``M`` runs
into the image border (a lesion cut off by the frame, or skin and vignette taken for lesion),
it often is. :func:`segmentation_confidence` turns this into one number in [0, 1]; the design
was chosen on the validation split and read once on the test split (``docs/real-data.md``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def mask_dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap of two bool masks of one shape (1.0 when both are empty)."""
    total = int(np.count_nonzero(a)) + int(np.count_nonzero(b))
    return 2.0 * np.count_nonzero(a & b) / total if total else 1.0


def border_contact(mask: np.ndarray) -> float:
    """Share of the image's outermost pixel ring covered by ``mask`` (bool (H, W)), in [0, 1]."""
    ring = np.concatenate([mask[0], mask[-1], mask[1:-1, 0], mask[1:-1, -1]])
    return float(np.count_nonzero(ring)) / ring.size


def segmentation_confidence(mask: np.ndarray, evidence: Mapping[str, np.ndarray]) -> float:
    """Confidence in [0, 1] of ``mask`` (bool (H, W)) given the pipeline's other masks of the
    image (``evidence``: stage name → bool (H, W), the exported stage left out).

    The mean Dice of ``mask`` with each evidence mask, times one minus its border contact
    (:func:`border_contact`); an empty ``mask`` scores 0.
    """
    if not mask.any():
        return 0.0
    agreement = np.mean([mask_dice(mask, other) for other in evidence.values()]) if evidence else 1.0
    return float(agreement * (1.0 - border_contact(mask)))
