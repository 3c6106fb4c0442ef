"""Config: the shipped config validates; unknown keys, wrong types and missing data_dir are
named."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from conftest import REPO, SNAKEMAKE
from xaicut.config import ConfigError, load_config, validate_config
from xaicut.settings import (
    asked_segment_stages,
    scored_segment_stages,
    variant_names,
    variant_train_settings,
)


def test_shipped_config_is_valid_and_defaults_fill_in():
    config = load_config(REPO / "config.yaml")
    assert config["data_dir"] == "demo"
    minimal = validate_config({"data_dir": "/data/ham"})
    assert minimal["split"] == {"val": 0.0202, "test": 0.18}   # paper 000 dataset A
    assert minimal["train"]["momentum"] == 0.8 and minimal["train"]["weight_decay"] == 0.001


@pytest.mark.parametrize("config, named", [
    ({"data_dir": "demo", "segment": {"pairwise_wieght": 3}}, "pairwise_wieght"),
    ({"data_dir": "demo", "train": {"epochs": "ten"}}, "'ten' is not of type 'integer'"),
    ({"results_dir": "r"}, "'data_dir' is a required property"),
    ({"data_dir": "demo", "fuse": {"mode": "xor"}}, "fuse.mode 'xor' must be"),
    ({"data_dir": "demo", "attribute": {"methods": ["gradcam"]}, "fuse": {"mode": "shap"}},
     "one of attribute.methods"),
    ({"data_dir": "demo", "fuse": {"threshold_method": "best"}}, "'best' is not one of"),
    ({"data_dir": "demo", "attribute": {"methods": ["deepshap"]}}, "'deepshap' is not one of"),
    ({"data_dir": "demo", "variants": {"cbam": {"cbm": True}}},
     r"variants.cbam: .*'cbm' was unexpected"),
    ({"data_dir": "demo", "variants": {"big": {"arch": "resnet1000"}}},
     "variants.big: .*resnet1000"),
    ({"data_dir": "demo", "variants": {"a": None}}, "every variant is null"),
    ({"data_dir": "demo", "variants": {"a/b": {}}}, "does not match"),
    ({"data_dir": "demo", "train": {"arch": "resnet34", "cbam": False},
      "student": {"encoder_from_classifier": True}},
     r"student.encoder_from_classifier: .*resnet18.*a resnet34 with cbam False"),
])
def test_invalid_configs_are_named(config, named):
    with pytest.raises(ConfigError, match=named):
        validate_config(config)


def test_snakemake_refuses_unknown_key_before_running():
    proc = subprocess.run([*SNAKEMAKE, "-n", "--cores", "1",
                           "--config", "segmnt_weight=3"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "segmnt_weight" in proc.stdout + proc.stderr


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    assert load_config(path)["data_dir"]


def merged(base: dict, overlay: dict) -> dict:
    """Snakemake's merge of a later --configfile into an earlier one (recursive for mappings)."""
    out = dict(base)
    for key, value in overlay.items():
        both_maps = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merged(out[key], value) if both_maps else value
    return out


@pytest.mark.parametrize("path", sorted((REPO / "configs" / "overlays").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_overlay_configs_validate_on_the_real_data_config(path):
    base = yaml.safe_load((REPO / "configs" / "cpu-real.yaml").read_text())
    overlay = yaml.safe_load(path.read_text())
    config = validate_config(merged(base, overlay))
    assert set(variant_names(config)) >= {k for k, v in overlay.get("variants", {}).items() if v}


def test_paper_config_follows_paper_000():
    """§2.1-2.2: ResNet152 + CBAM (r=4, k=5), SGD lr 0.1 / momentum 0.8 / wd 0.001, split
    8012/202/1803 of 10015, Grad-CAM and SHAP fused by AND."""
    config = load_config(REPO / "configs" / "ham10000-paper.yaml")
    train = config["train"]
    assert (train["arch"], train["cbam"], train["cbam_reduction"], train["cbam_kernel"]) == (
        "resnet152", True, 4, 5)
    assert (train["lr"], train["momentum"], train["weight_decay"]) == (0.1, 0.8, 0.001)
    assert round(10015 * config["split"]["val"]) == 202
    assert round(10015 * config["split"]["test"]) == 1803
    assert config["attribute"]["methods"] == ["gradcam", "shap"] and config["fuse"]["mode"] == "and"
    assert config["variants"] == {"plain": {"cbam": False}, "cbam": {"cbam": True}}


def test_a_null_variant_is_dropped():
    config = validate_config({"data_dir": "demo", "variants": {"plain": {}, "cbam": None}})
    assert variant_names(config) == ["plain"]
    assert variant_train_settings(config, "plain")["cbam"] is False


@pytest.mark.parametrize(("export", "student", "asked"), [
    ("auto", True, {"graphcut": "consensus"}),        # the default: auto's graph cut, the teacher
    ("auto", False, {"graphcut": "consensus"}),
    ("graphcut_and", False, {"graphcut_and": "and"}),
    ("graphcut_and", True, {"graphcut": "consensus", "graphcut_and": "and"}),  # + the teacher
    ("otsu", False, {}),                              # no graph cut asked: rule segment idle
    ("fused", True, {"graphcut": "consensus"}),
])
def test_segment_computes_the_asked_stages_and_the_scoring_the_rest(export, student, asked):
    """Rule segment: the exported stage and the student's teacher; segment_scored: the rest,
    so that both together are every seed mode (what a scoring run computes)."""
    config = validate_config({"data_dir": "demo", "export": {"stage": export},
                              "student": {"enabled": student},
                              "seeding": {"modes": ["consensus", "trimap_otsu", "and"]}})
    assert asked_segment_stages(config) == asked
    every = {"graphcut": "consensus", "graphcut_trimap_otsu": "trimap_otsu", "graphcut_and": "and"}
    scored = scored_segment_stages(config)
    assert scored == {s: m for s, m in every.items() if s not in asked}
    assert {**asked, **scored} == every
