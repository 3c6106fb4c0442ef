"""Model inputs: how an image file becomes the tensor a network sees.

Every network of the pipeline (classifier, U-Net, student, SimCLR encoder) and every explainer
reads its images through this module: RGB uint8, optionally colour-corrected (Shades of Gray,
``train.color_constancy``), resized to the network's square input size with area interpolation
(the one place images are resized), optionally augmented as uint8, then scaled to [0, 1] and
normalised with ImageNet statistics.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from xaicut.io import read_rgb

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225])[:, None, None]


def resized_uint8(image: np.ndarray, size: int) -> torch.Tensor:
    """Resize an RGB uint8 image (h, w, 3) to ``size``×``size``: uint8 tensor (3, size, size)."""
    resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(resized.transpose(2, 0, 1).copy())


def shades_of_gray(image: np.ndarray, power: float) -> np.ndarray:
    """Shades-of-Gray colour constancy (Finlayson & Trezzi 2004) of an RGB uint8 image (h, w, 3).

    The illuminant is estimated per channel as the Minkowski ``power``-mean of its values (1 =
    grey world, ∞ = max-RGB; 6 in dermoscopy, Barata et al. 2015) and divided out, so that it
    becomes neutral grey of the same norm. Returns uint8 (h, w, 3), clipped to 0-255.
    """
    values = image.astype(np.float32)
    illuminant = np.power(np.mean(np.power(values, power), axis=(0, 1)), 1 / power)
    illuminant = illuminant / max(float(np.linalg.norm(illuminant)), 1e-6)
    return np.clip(values / (illuminant * np.sqrt(3)), 0, 255).astype(np.uint8)


def read_model_image(path: str | os.PathLike, color_constancy: float | None = None) -> np.ndarray:
    """Read an RGB uint8 image (h, w, 3) as the classifier sees it: with Shades-of-Gray colour
    constancy of power ``color_constancy`` (``train.color_constancy``; None = as stored)."""
    image = read_rgb(path)
    return image if color_constancy is None else shades_of_gray(image, color_constancy)


def normalise_input(image: torch.Tensor) -> torch.Tensor:
    """Scale a uint8 (3, h, w) tensor to [0, 1] and normalise it with ImageNet statistics:
    float32 (3, h, w)."""
    return (image.float() / 255.0 - IMAGENET_MEAN) / IMAGENET_STD


def to_input_tensor(image: np.ndarray, size: int) -> torch.Tensor:
    """Resize an RGB uint8 image to ``size``×``size`` and normalise it: float32 (3, size, size)."""
    return normalise_input(resized_uint8(image, size))


def load_image_tensor(path: str | os.PathLike, size: int,
                      color_constancy: float | None = None) -> torch.Tensor:
    """Read an image file and return the model input, float32 (3, size, size);
    ``color_constancy``: as :func:`read_model_image`."""
    return to_input_tensor(read_model_image(path, color_constancy), size)


def online_augmentation(size: int) -> v2.Compose:
    """Random view of a resized uint8 image (3, size, size) drawn anew every epoch.

    Dermoscopy has no canonical orientation, so flips and any rotation are label-preserving; the
    crop keeps at least half the image (the lesion is usually central) and colour changes stay
    small because lesion colour is diagnostic. Draws from torch's global generator.
    """
    return v2.Compose([
        v2.RandomResizedCrop(size, scale=(0.5, 1.0), ratio=(0.8, 1.25), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomVerticalFlip(),
        v2.RandomApply([v2.RandomRotation(180)], p=0.5),
        v2.ColorJitter(brightness=0.1, contrast=0.1, saturation=0.1),
    ])


class ImageTable(Dataset):
    """Rows of a table with ``image_path`` and ``label`` (manifest, dataset B) as
    (input tensor float32 (3, size, size), label) pairs.

    ``transform`` (on the resized uint8 tensor, before normalisation) makes a random view per
    access; ``color_constancy``: as :func:`read_model_image`.
    """

    def __init__(self, table: pd.DataFrame, size: int,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 color_constancy: float | None = None) -> None:
        self.paths = table["image_path"].tolist()
        self.labels = table["label"].astype(int).tolist()
        self.size = size
        self.transform = transform
        self.color_constancy = color_constancy

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = resized_uint8(read_model_image(self.paths[i], self.color_constancy), self.size)
        if self.transform is not None:
            image = self.transform(image)
        return normalise_input(image), self.labels[i]
