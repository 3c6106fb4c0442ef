"""Model: CBAM placement, checkpoint round trip, weights_only loading, local pretrained weights."""

from __future__ import annotations

import pytest
import torch
from torchvision import models

from xaicut.model import CBAM, build_classifier, load_checkpoint, save_checkpoint

META = dict(arch="resnet18", cbam=True, cbam_reduction=4, cbam_kernel=5, input_size=32,
            classes=list("abcdefg"), epoch=1, val_loss=0.5)


def test_cbam_in_every_block_and_output_shape():
    model = build_classifier("resnet18", 7, cbam=True)
    assert sum(isinstance(m, CBAM) for m in model.modules()) == 8   # 2 blocks x 4 layers
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 7)
    bottleneck = build_classifier("resnet50", 7, cbam=True, cbam_reduction=4, cbam_kernel=5)
    cbam = bottleneck.layer1[0].bn3[1]
    assert cbam[1].conv.kernel_size == (5, 5)
    assert cbam[0].mlp[0].out_channels == 256 // 4


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_classifier("resnet18", 7, cbam=True).eval()
    save_checkpoint(model, tmp_path / "m.pt", **META)
    loaded, meta = load_checkpoint(tmp_path / "m.pt")
    x = torch.randn(1, 3, 32, 32)
    assert torch.allclose(model(x), loaded(x))
    assert meta["input_size"] == 32 and meta["classes"] == META["classes"]


def test_not_a_checkpoint_is_named(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt: not a loadable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt: not an xaicut checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_pretrained_weights_from_local_file(tmp_path):
    torch.manual_seed(1)
    imagenet = models.resnet18(weights=None)
    torch.save(imagenet.state_dict(), tmp_path / "r18.pth")
    model = build_classifier("resnet18", 7, cbam=True, pretrained_weights=tmp_path / "r18.pth")
    assert torch.equal(model.conv1.weight, imagenet.conv1.weight)
    assert model.fc.out_features == 7
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        build_classifier("resnet18", 7, pretrained_weights=tmp_path / "missing.pth")
