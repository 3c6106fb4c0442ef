"""The attribution store matches docs/attribution-store.md and round-trips exactly."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest

from conftest import REPO
from xaicut.attribution_store import (
    AttributionMap,
    attribution_path,
    read_attribution,
    stored_images,
    write_attribution,
)

DOC = (REPO / "docs" / "attribution-store.md").read_text()
PY_TYPES = {"int": (int, np.integer), "float": (float, np.floating), "str": (str, bytes)}


def doc_table(section: str) -> list[list[str]]:
    """Rows of the first Markdown table after heading ``section`` (header excluded)."""
    body = DOC.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in body.splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def sample(values: np.ndarray) -> AttributionMap:
    return AttributionMap("ISIC_0000001", "gradcam", values, 4, "mel", 5, 0.75, 4, "ab" * 32,
                          {"target_layer": "layer4"})


def test_file_matches_documented_schema(tmp_path):
    values = np.random.default_rng(0).random((45, 60)).astype(np.float32)
    write_attribution(sample(values), tmp_path / "a.h5")
    with h5py.File(tmp_path / "a.h5") as f:
        for name, dtype, shape, compression, _ in doc_table("Datasets"):
            assert f[name].dtype == np.dtype(dtype)
            assert f[name].shape == (45, 60) and shape == "(height, width)"
            assert f[name].compression == compression.split()[0]
        documented = {row[0]: row[1] for row in doc_table("Attributes")}
        assert set(documented) == set(f.attrs)
        for name, type_name in documented.items():
            assert isinstance(f.attrs[name], PY_TYPES[type_name]), name
        version = re.search(r"schema version (\d+)", DOC).group(1)
        assert f.attrs["schema_version"] == int(version)


def test_round_trip_and_no_leftover_temporary(tmp_path):
    values = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    write_attribution(sample(values), tmp_path / "a.h5")
    item = read_attribution(tmp_path / "a.h5")
    assert np.array_equal(item.values, values)
    assert item.method_params == {"target_layer": "layer4"}
    assert (item.target_dx, item.predicted_probability, item.true_class) == ("mel", 0.75, 4)
    assert [p.name for p in tmp_path.iterdir()] == ["a.h5"]


def test_bad_files_are_named(tmp_path):
    (tmp_path / "trunc.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(ValueError, match="trunc.h5"):
        read_attribution(tmp_path / "trunc.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(ValueError, match="other.h5: not an attribution file"):
        read_attribution(tmp_path / "other.h5")
    with pytest.raises(ValueError, match="finite 2-D"):
        write_attribution(sample(np.full((2, 2), np.nan, np.float32)), tmp_path / "nan.h5")
    assert not (tmp_path / "nan.h5").exists()


def test_stored_images_skips_temporaries_and_handles_underscored_methods(tmp_path):
    values = np.zeros((4, 5), np.float32)
    for image_id, method in (("ISIC_0000001", "gradcam"), ("ISIC_0000001", "shap_partition"),
                             ("ISIC_0000002", "shap_partition")):
        item = AttributionMap(image_id, method, values, 4, "mel", 5, 0.75, 4, "ab" * 32)
        write_attribution(item, attribution_path(tmp_path, image_id, method))
    (tmp_path / ".ISIC_0000003_gradcam.h5.x1y2.h5").write_bytes(b"truncated")
    assert stored_images(tmp_path, ["gradcam"]) == ["ISIC_0000001"]
    assert stored_images(tmp_path, ["gradcam", "shap_partition"]) == ["ISIC_0000001",
                                                                       "ISIC_0000002"]
