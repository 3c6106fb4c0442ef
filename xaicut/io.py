"""Atomic file writing and image reading shared by every stage.

Every output is first written to a temporary file in the destination directory and then renamed
into place (``os.replace`` is atomic on POSIX), so a killed job never leaves a readable but
truncated output behind. Rules whose outputs are folders fill temporary folders and move them
into place at the end (``atomic_directories``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` when the block succeeds.

    ``suffix`` defaults to the target's suffix so that writers choosing a format by extension
    (OpenCV, pandas) still work. The temporary file is removed when the block raises.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=suffix or target.suffix
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs get normal permissions
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_directories(paths: Sequence[str | os.PathLike]) -> Iterator[list[Path]]:
    """Yield one empty temporary folder beside each of ``paths``; when the block succeeds, move
    each into place (replacing a leftover folder of an earlier, killed job).

    For rules whose outputs are folders: a job killed half-way leaves no output folder, so
    Snakemake reruns it instead of taking a partial folder for a finished one. The temporary
    folders are removed when the block raises.
    """
    targets = [Path(p) for p in paths]
    tmps = []
    try:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmps.append(Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.")))
        yield tmps
        for tmp, target in zip(tmps, targets):
            os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp creates 0700
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
    finally:
        for tmp in tmps:
            shutil.rmtree(tmp, ignore_errors=True)


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``df`` as CSV (no index) atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def write_image(image: np.ndarray, path: str | os.PathLike, rgb: bool = True) -> None:
    """Write an image atomically; ``rgb`` images (H, W, 3) are converted to OpenCV's BGR order.

    Raises ``OSError`` when OpenCV cannot encode the image.
    """
    data = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if rgb and image.ndim == 3 else image
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), data):
            raise OSError(f"{path}: OpenCV could not write the image")


def write_mask(mask: np.ndarray, path: str | os.PathLike) -> None:
    """Write a boolean or 0/1 mask as a 0/255 single-channel PNG, atomically."""
    write_image((np.asarray(mask) > 0).astype(np.uint8) * 255, path, rgb=False)


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an 8-bit colour image as an (H, W, 3) uint8 RGB array.

    Raises ``ValueError`` naming the file when it cannot be decoded.
    """
    image = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a mask PNG as a boolean (H, W) array (pixel > 127 is foreground).

    Raises ``ValueError`` naming the file when it cannot be decoded.
    """
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise ValueError(f"{path}: not a readable mask image")
    return mask > 127
