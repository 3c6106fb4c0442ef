"""Self-supervised pretraining: the contrastive loss, and weights that train starts from."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from xaicut import CLASSES
from xaicut.config import ConfigError, validate_config
from xaicut.ingest import build_manifest
from xaicut.model import build_classifier
from xaicut.pretrain import nt_xent_loss, pretrain_encoder


def test_nt_xent_is_low_for_matching_pairs_and_log_of_the_pool_for_random_ones():
    torch.manual_seed(0)
    z = torch.randn(8, 16)
    matched = nt_xent_loss(z, z, temperature=0.1)
    assert matched.shape == (16,) and matched.max() < 0.05
    # all projections equal: each view's partner is one of 2B - 1 equally similar views
    same = nt_xent_loss(torch.ones(8, 4), torch.ones(8, 4), temperature=0.5)
    assert torch.allclose(same, torch.full((16,), math.log(15)))


def test_pretrained_encoder_initialises_the_classifier(tmp_path):
    from conftest import write_tiny_release

    write_tiny_release(tmp_path / "ham")
    build_manifest(tmp_path / "ham", val=0.25, test=0.25, seed=0).to_csv(tmp_path / "m.csv",
                                                                          index=False)
    cfg = validate_config({"data_dir": "demo", "pretrain": {"input_size": 32, "batch_size": 8,
                                                            "epochs": 2}})["pretrain"]
    weights_path, history_path = tmp_path / "encoder.pt", tmp_path / "history.csv"
    pretrain_encoder(tmp_path / "m.csv", weights_path, history_path, cfg, "resnet18", "cpu",
                     seed=0, resume_path=tmp_path / "last.pt")
    history = pd.read_csv(history_path)
    assert list(history.columns) == ["epoch", "train_loss", "val_loss", "lr"] and len(history) == 2
    assert not (tmp_path / "last.pt").exists()
    weights = torch.load(weights_path, weights_only=True)
    classifier = build_classifier("resnet18", len(CLASSES), cbam=True,
                                  pretrained_weights=weights_path)
    state = classifier.state_dict()
    assert torch.equal(state["layer1.0.conv1.weight"], weights["layer1.0.conv1.weight"])
    assert not any(k.startswith("fc.") for k in weights)


def test_self_supervised_init_and_pretrained_weights_exclude_each_other():
    with pytest.raises(ConfigError, match="variant both"):
        validate_config({"data_dir": "demo", "variants": {"both": {"init": "self_supervised",
                                                                  "pretrained_weights": "w.pt"}}})
