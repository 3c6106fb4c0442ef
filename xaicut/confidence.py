"""Label-free confidence of one segmentation: does the mask look like a lesion the image shows?

No ground truth enters. Two cues from the mask and its image: **solidity** (the largest
component's area over its convex hull's: lesions are compact blobs, while failed cuts leak along
hairs, shadows and vignette corners into ragged shapes) and **colour separation** (how far the
mean CIELAB colour inside lies from the one outside, in units of their spread: a mask over
skin-coloured pixels separates nothing). :func:`segmentation_confidence` multiplies them into one
number in [0, 1]. The design was chosen on the validation split, among these cues and the
agreement of the pipeline's other masks (``benchmarks/confidence_design.py``), and read once on
the test split (``docs/real-data.md``).
"""

from __future__ import annotations

import numpy as np
from skimage.color import rgb2lab
from skimage.measure import label, regionprops

MIN_SPREAD = 1.0
"""Floor of the pooled CIELAB spread (about one just-noticeable colour difference), so that
flat or noise-free images give finite separations."""


def solidity(mask: np.ndarray) -> float:
    """Area over convex-hull area of the largest 8-connected component of ``mask`` (bool
    (H, W)), in (0, 1]; 0 for an empty mask."""
    regions = regionprops(label(mask, connectivity=2))
    return float(max(regions, key=lambda r: r.area).solidity) if regions else 0.0


def colour_separation(image: np.ndarray, mask: np.ndarray) -> float:
    """Distance between the mean CIELAB colours inside and outside ``mask`` over their pooled
    spread: ``|mean_in - mean_out| / sqrt((var_in + var_out) / 2)`` with each variance summed
    over L*, a*, b* (the spread at least ``MIN_SPREAD``). ``image``: uint8 RGB (H, W, 3);
    unitless, >= 0; 0 when either side is empty."""
    if mask.all() or not mask.any():
        return 0.0
    lab = rgb2lab(image)
    inside, outside = lab[mask], lab[~mask]
    spread = np.sqrt((inside.var(axis=0).sum() + outside.var(axis=0).sum()) / 2.0)
    distance = np.linalg.norm(inside.mean(axis=0) - outside.mean(axis=0))
    return float(distance / max(spread, MIN_SPREAD))


def segmentation_confidence(mask: np.ndarray, image: np.ndarray) -> float:
    """Confidence in [0, 1] of ``mask`` (bool (H, W)) as the lesion of ``image`` (uint8 RGB
    (H, W, 3)): :func:`solidity` times ``tanh`` of :func:`colour_separation` (saturating once
    the lesion stands two spreads away from the skin). 0 for an empty or full mask."""
    return solidity(mask) * float(np.tanh(colour_separation(image, mask)))
