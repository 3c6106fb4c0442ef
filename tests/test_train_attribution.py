"""Train a small CBAM ResNet on a toy release, then attribute: outputs follow the contracts."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import train_settings
from xaicut import CLASSES
from xaicut.attribution import (
    METHODS,
    CamExplainer,
    SignedEigenCAM,
    attribute_shard,
    build_explainers,
)
from xaicut.attribution_store import read_attribution, stored_images
from xaicut.classifier_training import ensemble_and_report, train_member
from xaicut.faithfulness import DELETION_COLUMNS
from xaicut.ingest import build_manifest
from xaicut.model import LogitEnsemble, build_classifier, load_checkpoint, member_layers
from xaicut.shards import shard_names, shard_rows, split_shards

CFG = train_settings(arch="resnet18", cbam=True, cbam_reduction=4, cbam_kernel=5, input_size=32,
                     batch_size=8, epochs=3, lr=0.01, momentum=0.8, weight_decay=0.001,
                     scheduler_patience=1, scheduler_factor=0.5, early_stopping_patience=2,
                     color_constancy=6.0)
ATTR = dict(methods=["gradcam", "shap"], target="predicted", target_layer="layer4",
            aug_smooth=False, shard_size=5, batch_size=4, shap_nsamples=4,
            shap_background_size=4, shap_smoothing_sigma=1.0, shap_max_evals=40,
            shap_partition_blur=5, deletion_fractions=[0.1, 0.3])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from conftest import write_tiny_release

    root = tmp_path_factory.mktemp("train")
    write_tiny_release(root / "ham")
    manifest = build_manifest(root / "ham", val=0.2, test=0.25, seed=0)
    manifest.to_csv(root / "dataset.csv", index=False)
    members = [(root / f"member{m}.pt", root / f"member{m}.csv") for m in range(2)]
    for seed, (model, history) in enumerate(members):
        train_member(str(root / "dataset.csv"), model, history, CFG, device="cpu", seed=seed)
    out = variant_outputs(root)
    ensemble_and_report(str(root / "dataset.csv"), [m for m, _ in members], [h for _, h in members],
                        **out, cfg=CFG, device="cpu")
    return root, manifest, out


def variant_outputs(folder: Path) -> dict[str, Path]:
    """The ``train`` stage's output paths in ``folder``, as ``ensemble_and_report`` arguments."""
    return {"model_path": folder / "model.pt",
            **{f"{k}_path": folder / f"{k}.csv"
               for k in ("history", "classification", "predictions")}}


def test_train_outputs(trained):
    _, manifest, out = trained
    history = pd.read_csv(out["history_path"])
    assert list(history.columns) == ["member", "epoch", "train_loss", "train_accuracy", "val_loss",
                                     "val_accuracy", "val_balanced_accuracy", "lr"]
    assert history.val_balanced_accuracy.between(0, 1).all()
    assert set(history.member) == {0, 1} and np.isfinite(history.train_loss).all()
    assert history.groupby("member").epoch.apply(
        lambda e: list(e) == list(range(1, len(e) + 1))).all()
    report = pd.read_csv(out["classification_path"]).set_index("class")
    assert {"accuracy", "macro avg", "weighted avg", "test loss", "nv", "df"} <= set(report.index)
    assert report.loc["accuracy", "support"] == (manifest.split == "test").sum()
    preds = pd.read_csv(out["predictions_path"])
    assert preds.probability.between(0, 1).all()


def test_the_ensemble_averages_its_members_logits(trained):
    """The variant's checkpoint holds both members; its logits are their mean, and its
    predictions are the test report's."""
    root, manifest, out = trained
    model, meta = load_checkpoint(out["model_path"])
    members = [load_checkpoint(root / f"member{m}.pt")[0] for m in range(2)]
    assert isinstance(model, LogitEnsemble) and meta["members"] == 2
    assert meta["color_constancy"] == 6.0  # attribution reads the images as training did
    batch = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected = (members[0](batch) + members[1](batch)) / 2
        assert torch.allclose(model(batch), expected, atol=1e-5)
        assert not torch.allclose(members[0](batch), members[1](batch))  # two seeds, two models
    assert member_layers(model, ["layer1", "layer4"]) == [
        "members.0.layer1", "members.0.layer4", "members.1.layer1", "members.1.layer4"]
    assert member_layers(members[0], ["layer4"]) == ["layer4"]


def test_one_member_is_the_classifier_itself(trained, tmp_path):
    root, _, _ = trained
    out = variant_outputs(tmp_path)
    ensemble_and_report(str(root / "dataset.csv"), [root / "member1.pt"], [root / "member1.csv"],
                        **out, cfg=CFG, device="cpu")
    model, meta = load_checkpoint(out["model_path"])
    member, _ = load_checkpoint(root / "member1.pt")
    assert not isinstance(model, LogitEnsemble) and meta["members"] == 1
    for key, value in member.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_attribution_files_round_trip(trained, tmp_path):
    root, manifest, out = trained
    names = split_shards(manifest, ATTR["shard_size"], "test")
    rows = shard_rows(manifest, names[0], ATTR["shard_size"])
    deletion = attribute_shard(rows, manifest, out["model_path"], tmp_path, ATTR, device="cpu",
                               seed=0)
    written = sorted(tmp_path.glob("*.h5"))
    assert len(written) == 2 * len(rows)
    for path in written:
        item = read_attribution(path)
        rec = manifest.set_index("image_id").loc[item.image_id]
        assert item.values.shape == (rec.height, rec.width) and item.values.dtype == np.float32
        assert 0 <= item.values.min() and item.values.max() <= 1
        assert item.true_class == rec.label and len(item.checkpoint_sha256) == 64
        assert item.method in ("gradcam", "shap") and item.method_params
    assert list(deletion.columns) == list(DELETION_COLUMNS)
    assert len(deletion) == len(rows) * 3 * len(ATTR["deletion_fractions"])  # 2 methods + random
    assert set(deletion.method) == {"gradcam", "shap", "random"}
    assert deletion.probability.between(0, 1).all()
    assert deletion.deleted_probability.between(0, 1).all()
    assert np.allclose(deletion["drop"], deletion.probability - deletion.deleted_probability)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("cbam", [False, True])
def test_every_method_gives_image_sized_finite_varying_maps(trained, method, cbam):
    """Each configured method on a tiny ResNet18 (with and without CBAM), 32 px input."""
    _, manifest, _ = trained
    torch.manual_seed(0)
    model = build_classifier("resnet18", len(CLASSES), cbam=cbam).eval().requires_grad_(False)
    batch = torch.randn(2, 3, 32, 32)
    cfg = {**ATTR, "target_layer": "layer3", "shap_max_evals": 40, "shap_partition_blur": 5}
    [explainer] = build_explainers(model, [method], cfg, manifest, 32, seed=0)
    maps = explainer.explain(batch, [1, 4])
    assert maps.shape == (2, 32, 32) and np.isfinite(maps).all()
    assert maps.min() >= 0 and maps.max() <= 1
    assert all(m.max() > m.min() for m in maps), f"{method}: constant map"
    assert explainer.params()


@pytest.mark.parametrize("layers, aug_smooth", [(["layer3", "layer4"], False), ("layer4", True)])
def test_multi_layer_and_augmentation_smoothed_maps(layers, aug_smooth):
    """Two layers average their scaled maps; aug_smooth averages six augmented passes: both
    differ from the one-layer plain map and stay valid maps."""
    torch.manual_seed(0)
    model = build_classifier("resnet18", len(CLASSES)).eval().requires_grad_(False)
    batch = torch.randn(2, 3, 64, 64)
    plain = CamExplainer("gradcam", model, "layer4", 2).explain(batch, [1, 4])
    explainer = CamExplainer("gradcam", model, layers, 2, aug_smooth=aug_smooth)
    maps = explainer.explain(batch, [1, 4])
    assert maps.shape == plain.shape and maps.min() >= 0 and maps.max() <= 1
    assert not np.allclose(maps, plain)
    assert explainer.params()["target_layer"] == ("layer3,layer4" if aug_smooth is False
                                                  else "layer4")
    assert explainer.params()["aug_smooth"] is aug_smooth


def test_signed_eigencam_marks_the_blob_whatever_the_activation_sign():
    """A central blob that dominates the activations is the positive side of the map, for the
    activations and their negation alike (the SVD's sign is arbitrary)."""
    rng = np.random.default_rng(0)
    activations = rng.normal(0, 0.1, (1, 8, 12, 12)).astype(np.float32)
    activations[0, :, 4:8, 4:8] += rng.normal(2, 0.5, (8, 1, 1)).astype(np.float32)
    cam = SignedEigenCAM(build_classifier("resnet18", len(CLASSES)).eval(), target_layers=[])
    for acts in (activations, -activations):
        projection = cam.get_cam_image(None, None, None, acts, None, False)[0]
        blob = np.zeros((12, 12), dtype=bool)
        blob[4:8, 4:8] = True
        assert projection[blob].min() > 0 > projection[~blob].max()


def test_unknown_method_is_named(trained):
    _, manifest, _ = trained
    model = build_classifier("resnet18", len(CLASSES)).eval()
    with pytest.raises(ValueError, match="deepshap"):
        build_explainers(model, ["deepshap"], ATTR, manifest, 32, seed=0)


def test_shards_cover_each_split_once():
    manifest = pd.DataFrame({"image_id": [f"I{i:02d}" for i in range(30)],
                             "split": ["test"] * 23 + ["val"] * 7})
    names = split_shards(manifest, 5, "test")
    assert names == ["test000", "test001", "test002", "test003", "test004"]
    ids = [i for n in names for i in shard_rows(manifest, n, 5).image_id]
    assert ids == sorted(manifest.image_id[:23])
    assert split_shards(manifest, 5, "val") == ["val000", "val001"]
    assert list(shard_rows(manifest, "val001", 5).image_id) == ["I28", "I29"]
    assert shard_names(0, 5, "val") == ["val000"]  # an empty shard keeps the DAG uniform
    with pytest.raises(ValueError, match="shard name"):
        shard_rows(manifest, "shard000", 5)


def test_a_killed_attribution_job_reruns_cleanly(trained, tmp_path):
    """SIGKILL mid-shard leaves only complete, valid files; the rerun completes the shard."""
    root, manifest, out = trained
    rows = manifest[manifest.split == "test"]
    cfg = {**ATTR, "batch_size": 1, "shap_nsamples": 64}
    out_dir = tmp_path / "test000"
    script = (
        "import pandas as pd\n"
        "from xaicut.attribution import attribute_shard\n"
        f"m = pd.read_csv({str(root / 'dataset.csv')!r})\n"
        f"attribute_shard(m[m.split == 'test'], m, {str(out['model_path'])!r}, {str(out_dir)!r}, "
        f"{cfg!r}, device='cpu', seed=0)\n"
    )
    job = subprocess.Popen([sys.executable, "-c", script])
    expected = 2 * len(rows)
    deadline = time.monotonic() + 120
    while len(stored_files(out_dir)) < 3 and time.monotonic() < deadline and job.poll() is None:
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    partial = stored_files(out_dir)
    assert 3 <= len(partial) < expected, "the job was not killed mid-shard"
    for path in partial:
        read_attribution(path)  # every visible file is complete
    attribute_shard(rows, manifest, out["model_path"], out_dir, cfg, device="cpu", seed=0)
    final = stored_files(out_dir)
    assert len(final) == expected and not list(out_dir.glob(".*"))
    for path in final:
        read_attribution(path)
    assert stored_images(out_dir, ATTR["methods"]) == sorted(rows.image_id)


def stored_files(directory: Path) -> list[Path]:
    """Visible store files of a folder (hidden temporary files excluded)."""
    return [p for p in directory.glob("*.h5") if not p.name.startswith(".")]
