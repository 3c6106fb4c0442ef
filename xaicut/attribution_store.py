"""The attribution store: one HDF5 file per image and method (layout: docs/attribution-store.md).

``write_attribution`` is the only writer and ``read_attribution`` the only reader; every stage after
``attribute`` goes through ``read_attribution``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from xaicut.io import atomic_path

SCHEMA_VERSION = 1
MAP_DATASET = "attribution"
REQUIRED_ATTRS = (
    "schema_version",
    "image_id",
    "method",
    "target_class",
    "target_dx",
    "predicted_class",
    "predicted_probability",
    "true_class",
    "checkpoint_sha256",
    "method_params",
)


@dataclass(frozen=True)
class AttributionMap:
    """A per-image attribution map and its provenance.

    ``values`` is float32 (H, W) at the original image size, min-max normalised to [0, 1]
    (1 = most evidence for ``target_class``). ``method_params`` holds the explainer settings.
    """

    image_id: str
    method: str
    values: np.ndarray
    target_class: int
    target_dx: str
    predicted_class: int
    predicted_probability: float
    true_class: int
    checkpoint_sha256: str
    method_params: dict[str, Any] = field(default_factory=dict)


def attribution_path(directory: str | os.PathLike, image_id: str, method: str) -> Path:
    """Return the store path of one image's map for one method."""
    return Path(directory) / f"{image_id}_{method}.h5"


def stored_images(directory: str | os.PathLike, methods: list[str]) -> list[str]:
    """Sorted ids of the images with a map of any of ``methods`` in ``directory``.

    Only complete store files count: the hidden temporary files of an interrupted
    :func:`write_attribution` (``.{name}.*.h5``) are ignored.
    """
    ids = set()
    for method in methods:
        suffix = f"_{method}.h5"
        ids |= {p.name[: -len(suffix)] for p in Path(directory).glob(f"*{suffix}")
                if not p.name.startswith(".")}
    return sorted(ids)


def write_attribution(item: AttributionMap, path: str | os.PathLike) -> None:
    """Write ``item`` atomically to ``path`` (gzip-compressed float32, chunked)."""
    values = np.asarray(item.values, dtype=np.float32)
    if values.ndim != 2 or not np.all(np.isfinite(values)):
        raise ValueError(f"{item.image_id}/{item.method}: attribution map must be finite 2-D")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset(MAP_DATASET, data=values, compression="gzip", compression_opts=4)
        attrs = {
            "schema_version": SCHEMA_VERSION,
            "image_id": item.image_id,
            "method": item.method,
            "target_class": int(item.target_class),
            "target_dx": item.target_dx,
            "predicted_class": int(item.predicted_class),
            "predicted_probability": float(item.predicted_probability),
            "true_class": int(item.true_class),
            "checkpoint_sha256": item.checkpoint_sha256,
            "method_params": json.dumps(item.method_params, sort_keys=True),
        }
        f.attrs.update(attrs)


def read_attribution(path: str | os.PathLike) -> AttributionMap:
    """Read one store file; raise ``ValueError`` naming the file when it breaks the schema."""
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in REQUIRED_ATTRS if k not in f.attrs]
            if missing or MAP_DATASET not in f:
                raise ValueError(
                    f"{path}: not an attribution file (missing {missing or MAP_DATASET})"
                )
            if int(f.attrs["schema_version"]) != SCHEMA_VERSION:
                raise ValueError(
                    f"{path}: schema version {f.attrs['schema_version']}, expected {SCHEMA_VERSION}"
                )
            values = f[MAP_DATASET][()]
            a = dict(f.attrs)
    except OSError as err:
        raise ValueError(f"{path}: unreadable HDF5 file ({err})") from err
    return AttributionMap(
        image_id=str(a["image_id"]),
        method=str(a["method"]),
        values=values,
        target_class=int(a["target_class"]),
        target_dx=str(a["target_dx"]),
        predicted_class=int(a["predicted_class"]),
        predicted_probability=float(a["predicted_probability"]),
        true_class=int(a["true_class"]),
        checkpoint_sha256=str(a["checkpoint_sha256"]),
        method_params=json.loads(a["method_params"]),
    )
