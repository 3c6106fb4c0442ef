"""The project's CAM explainers against ``grad-cam``'s plain classes: the same maps, while the
backward stops at the first target layer (no weight or input gradients, no autograd before it)
and EigenCAM's SVD is thin/truncated on one BLAS thread."""

from __future__ import annotations

import copy
import importlib
import sys

import numpy as np
import pytest
import torch
from pytorch_grad_cam.utils.svd_on_activations import (
    get_2d_projection,
    get_2d_projection_with_sign_correction,
)

from conftest import REPO
from xaicut.attribution import CamExplainer, principal_projection
from xaicut.model import build_classifier, join_members, member_layers


@pytest.fixture(scope="module")
def library_cam():
    """``attribution_throughput.library_cam``: ``grad-cam``'s own class of a method, run as the
    pipeline ran it before (gradients to the input, full SVD on the default BLAS threads)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        return importlib.import_module("attribution_throughput").library_cam
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def small_resnet(members: int = 1) -> torch.nn.Module:
    """A seeded random ResNet18 (7 classes) in eval mode, parameters trainable; an ensemble of
    ``members`` of them when ``members`` > 1."""
    torch.manual_seed(0)
    nets = [build_classifier("resnet18", 7).eval() for _ in range(members)]
    return nets[0] if members == 1 else join_members(nets).eval()


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    return torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize(("method", "layers", "members"), [
    ("gradcam", ["layer3"], 1),
    ("gradcam", ["layer3", "layer4"], 1),
    ("gradcam", ["layer4"], 2),
    ("gradcampp", ["layer3"], 1),
    ("xgradcam", ["layer4"], 1),
    ("layercam", ["layer2", "layer3"], 1),
    ("eigencam", ["layer3"], 1),
    ("eigencam_signed", ["layer1", "layer2"], 1),
])
def test_maps_equal_the_library_and_no_gradient_reaches_weights_or_input(library_cam, batch,
                                                                          method, layers, members):
    model = small_resnet(members)
    targets = [0, 3, 6]
    reference = copy.deepcopy(model)  # trainable: the library's backward reaches the input
    expected = library_cam(method, reference, member_layers(reference, layers), 3)(batch, targets)

    first = model.get_submodule(member_layers(model, layers)[0])
    records_grad = []
    model.get_submodule(member_layers(model, ["layer1"])[0]).register_forward_hook(
        lambda module, inputs, output: records_grad.append(output.requires_grad))
    inputs = batch.clone()
    explainer = CamExplainer(method, model, layers, batch_size=3)
    maps = explainer.explain(inputs, targets)

    np.testing.assert_allclose(maps, expected, rtol=0, atol=1e-6)
    assert maps.shape == (3, 64, 64) and np.ptp(maps) > 0
    assert not any(p.requires_grad for p in model.parameters())
    assert all(p.grad is None for p in model.parameters())
    assert inputs.grad is None and not inputs.requires_grad
    if first is not model.get_submodule(member_layers(model, ["layer1"])[0]):
        assert records_grad and not any(records_grad)  # no autograd before the target layer


def test_hook_leaves_other_gradients_and_no_grad_runs_alone(batch):
    """SHAP's input gradients still flow through a model whose layer carries the hook, and the
    deletion check's ``torch.no_grad`` forward gives the plain logits."""
    model, reference = small_resnet(), small_resnet()
    CamExplainer("gradcam", model, ["layer3"], batch_size=3)
    inputs, expected = batch.clone().requires_grad_(True), batch.clone().requires_grad_(True)
    model(inputs)[:, 2].sum().backward()
    reference.requires_grad_(False)(expected)[:, 2].sum().backward()
    assert torch.equal(inputs.grad, expected.grad)
    with torch.no_grad():
        assert torch.equal(model(batch), reference(batch))


def test_principal_projection_matches_the_library_and_handles_degenerate_activations():
    rng = np.random.default_rng(0)
    activations = np.maximum(rng.normal(size=(4, 64, 7, 7)), 0).astype(np.float32)
    activations[1, 5, 2, 3] = np.nan
    expected = get_2d_projection_with_sign_correction(activations)
    np.testing.assert_allclose(principal_projection(activations, True), expected,
                               rtol=0, atol=1e-5 * np.abs(expected).max())
    np.testing.assert_array_equal(principal_projection(activations, False),
                                  get_2d_projection(activations))  # LAPACK's sign kept
    constant = np.ones((1, 8, 4, 4), dtype=np.float32)
    single = rng.normal(size=(1, 8, 1, 1)).astype(np.float32)
    for degenerate in (constant, single):
        assert np.all(principal_projection(degenerate, True) == 0)
