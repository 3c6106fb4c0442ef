"""Train a small CBAM ResNet on a toy release, then attribute: outputs follow the contracts."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from xaicut.attribution import attribute_shard
from xaicut.shards import shard_names, shard_rows
from xaicut.attribution_store import read_attribution
from xaicut.ingest import build_manifest
from xaicut.train import train_and_report

CFG = dict(arch="resnet18", cbam=True, cbam_reduction=4, cbam_kernel=5, pretrained_weights=None,
           input_size=32, batch_size=8, epochs=3, lr=0.01, momentum=0.8, weight_decay=0.001,
           scheduler_patience=1, scheduler_factor=0.5, early_stopping_patience=2)
ATTR = dict(methods=["gradcam", "shap"], target="predicted", target_layer="layer4", shard_size=5,
            batch_size=4, shap_nsamples=4, shap_background_size=4, shap_smoothing_sigma=1.0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from conftest import write_tiny_release

    root = tmp_path_factory.mktemp("train")
    write_tiny_release(root / "ham")
    manifest = build_manifest(root / "ham", val=0.2, test=0.25, seed=0)
    manifest.to_csv(root / "dataset.csv", index=False)
    out = SimpleNamespace(**{k: root / f"{k}.csv" for k in ("history", "classification", "predictions")})
    out.model = root / "model.pt"
    train_and_report(str(root / "dataset.csv"), out, CFG, device="cpu", seed=0)
    return root, manifest, out


def test_train_outputs(trained):
    _, manifest, out = trained
    history = pd.read_csv(out.history)
    assert list(history.columns) == ["epoch", "train_loss", "train_accuracy", "val_loss",
                                     "val_accuracy", "lr"]
    assert 1 <= len(history) <= 3 and np.isfinite(history.train_loss).all()
    report = pd.read_csv(out.classification).set_index("class")
    assert {"accuracy", "macro avg", "weighted avg", "test loss", "nv", "df"} <= set(report.index)
    assert report.loc["accuracy", "support"] == (manifest.split == "test").sum()
    preds = pd.read_csv(out.predictions)
    assert preds.probability.between(0, 1).all()


def test_attribution_files_round_trip(trained, tmp_path):
    root, manifest, out = trained
    names = shard_names(int((manifest.split == "test").sum()), ATTR["shard_size"])
    rows = shard_rows(manifest, names[0], ATTR["shard_size"])
    written = attribute_shard(rows, manifest, out.model, tmp_path, ATTR, device="cpu", seed=0)
    assert len(written) == 2 * len(rows)
    for path in written:
        item = read_attribution(path)
        rec = manifest.set_index("image_id").loc[item.image_id]
        assert item.values.shape == (rec.height, rec.width) and item.values.dtype == np.float32
        assert 0 <= item.values.min() and item.values.max() <= 1
        assert item.true_class == rec.label and len(item.checkpoint_sha256) == 64
        assert item.method in ("gradcam", "shap") and item.method_params


def test_shards_cover_test_split_once():
    manifest = pd.DataFrame({"image_id": [f"I{i:02d}" for i in range(23)], "split": "test"})
    names = shard_names(23, 5)
    assert names == ["shard000", "shard001", "shard002", "shard003", "shard004"]
    ids = [i for n in names for i in shard_rows(manifest, n, 5).image_id]
    assert ids == sorted(manifest.image_id)
