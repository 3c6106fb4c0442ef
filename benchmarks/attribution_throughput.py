"""Benchmark the throughput of the attribution stage: images per second of every method on this CPU.

Run from the repository root (``docs/performance.md`` has the method and the latest figures)::

    python benchmarks/attribution_throughput.py [--models resnet18,resnet152] [--methods ...]
        [--expensive] [--library] [--batch-size-18 16] [--batch-size-152 4]
        [--images [MODEL:]METHOD=N ...] [--rounds 3] [--seed 0]

The default run (every method but ``EXPENSIVE``) takes under 10 minutes on 2 cores;
``--expensive`` adds ScoreCAM and Partition SHAP (minutes per image on resnet152), which may also
be named in ``--methods`` only together with ``--expensive``.

For every model (``MODELS``: resnet18 at 128 px with target layer ``layer3``, as the demo config;
resnet152 at 224 px with ``layer4``), built with ``xaicut.model.build_classifier`` and random
weights (throughput does not depend on the weights) and frozen as the pipeline's
``attribute_shard`` freezes it (``eval().requires_grad_(False)``), the script times:

* ``forward``: ``torch.softmax(model(batch), 1)`` under ``torch.no_grad()``, the shard job's
  prediction step;
* every method of ``xaicut.attribution.METHODS`` through the project's explainer classes, built
  with the settings of ``build_explainers``: ``CamExplainer`` for the Grad-CAM family (each on its
  own copy of the model, so that its hooks fire only in its own runs), ``ShapExplainer`` (expected
  gradients, ``SHAP_NSAMPLES`` samples, a background of ``SHAP_BACKGROUND_SIZE`` random images) and
  ``PartitionShapExplainer`` (``PARTITION_MAX_EVALS`` model calls per image, blur kernel
  ``MODELS[...].partition_blur``);
* with ``--library``, every requested CAM method also as ``<method>_library``: ``grad-cam``'s own
  class (``library_cam``) on the frozen model, gradients to the input where the method uses
  gradients, NumPy's full SVD on the default BLAS threads: how the pipeline ran it before issue
  20, measured side by side with the project's explainer.

Inputs are seeded random RGB noise images, normalised as the pipeline normalises images
(``xaicut.preprocess.to_input_tensor``); targets are the model's predicted classes. Explainers get
``batch_size`` images per call (ScoreCAM's masked forwards and Partition SHAP's model calls also
run ``batch_size`` at a time, as in the pipeline). Torch uses 2 threads; NumPy's BLAS keeps its
default, as in the pipeline's ``attribute`` jobs.

A measurement times (``time.perf_counter``) one method on N images (``images_per_measurement``)
and gives seconds per image. Methods are measured side by side in ``--rounds`` rounds, each round
running every method once, in an order rotated by one from round to round, so that load changes
on a shared machine hit all methods alike; the figure of a method is the **median over rounds**
of seconds per image. Before the first round every method runs one untimed warm-up batch. The
methods of ``SINGLE_ROUND`` cost minutes per image (ScoreCAM: one forward per channel of the
target layer; Partition SHAP: ``max_evals`` forwards per image): they are measured in the first
round only and not warmed up (their hundreds of model calls per image amortise first-call costs;
the forward warm-up at the same batch shape precedes them).

stdout: one table per model, then, as the LAST line, one JSON object::

    {"resnet18@128": {"batch_size": 16, "forward_ips": ..., "gradcam_ips": ..., ...,
                      "gradcam_vs_forward": ..., "shap_seconds_per_sample": ...},
     "resnet152@224": {...}}

``*_ips`` are images per second (1 / median seconds per image), ``*_vs_forward`` the median
seconds per image over the forward's, ``shap_seconds_per_sample`` SHAP's seconds per image divided
by its ``nsamples`` (each sample: one background image, one interpolation, one forward and
backward); floats rounded to 4 decimals.
Progress and logs go to stderr.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
# Benchmark the checkout this script belongs to, not an xaicut installed elsewhere (a script's
# sys.path starts with its own folder, so the repository root is not on it by default).
sys.path.insert(0, str(REPO))

from pytorch_grad_cam import (  # noqa: E402
    EigenCAM,
    GradCAM,
    GradCAMPlusPlus,
    LayerCAM,
    ScoreCAM,
    XGradCAM,
)
from pytorch_grad_cam.base_cam import BaseCAM  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402
from pytorch_grad_cam.utils.svd_on_activations import (  # noqa: E402
    get_2d_projection_with_sign_correction,
)

from xaicut.attribution import (  # noqa: E402
    CAM_METHODS,
    METHODS,
    CamExplainer,
    PartitionShapExplainer,
    ShapExplainer,
    normalise_map,
)
from xaicut.logs import setup_logging  # noqa: E402
from xaicut.model import build_classifier  # noqa: E402
from xaicut.preprocess import to_input_tensor  # noqa: E402

log = logging.getLogger("benchmark")

THREADS = 2
NUM_CLASSES = 7
FORWARD = "forward"
SHAP_NSAMPLES = 8
"""``shap_nsamples`` of the demo config (``config.yaml``)."""
SHAP_BACKGROUND_SIZE = 16
SHAP_SMOOTHING_SIGMA = 2.0
PARTITION_MAX_EVALS = 256
"""``shap_max_evals`` default of the config schema."""
TARGET_RATIO = 1.5
"""Issue 20 target: the Grad-CAM family (``TARGET_METHODS``) costs at most 1.5x the forward."""
TARGET_METHODS = ("gradcam", "eigencam_signed")
EXPENSIVE = ("scorecam", "shap_partition")
"""Methods left out of the default run (``--expensive`` adds them)."""
LIBRARY = "_library"
"""Suffix of the ``--library`` measurements."""
SLOW_METHODS = ("scorecam", "shap", "shap_partition")
"""Methods that cost seconds to minutes per image: measured on a few images
(``ModelSetup.slow_images``)."""


@dataclass(frozen=True)
class ModelSetup:
    """A classifier and its attribution settings."""

    arch: str
    input_size: int
    target_layer: str
    partition_blur: int
    """Partition SHAP blur kernel, px: the schema default 16 at 128 px, scaled with the input."""
    default_batch_size: int
    fast_batches: int
    """Batches per measurement of the forward and the fast CAM methods."""
    slow_images: dict[str, int]
    """Images per measurement of each of ``SLOW_METHODS``."""

    @property
    def key(self) -> str:
        """``arch@input_size``, the JSON key of the model."""
        return f"{self.arch}@{self.input_size}"


MODELS = {
    "resnet18": ModelSetup("resnet18", 128, "layer3", 16, 16, fast_batches=2,
                           slow_images={"scorecam": 2, "shap": 2, "shap_partition": 2}),
    "resnet152": ModelSetup("resnet152", 224, "layer4", 28, 4, fast_batches=1,
                            slow_images={"scorecam": 1, "shap": 1, "shap_partition": 1}),
}
SINGLE_ROUND = {"resnet152": ("scorecam", "shap_partition")}
"""Methods timed in the first round only, without warm-up (minutes per image)."""


class LibrarySignedEigenCAM(EigenCAM):
    """Signed EigenCAM as ``grad-cam`` computes it: ``get_2d_projection_with_sign_correction``
    (full SVD on NumPy's default BLAS threads), as ``xaicut.attribution`` did before issue 20."""

    def get_cam_image(self, input_tensor, target_layer, target_category, activations, grads,
                      eigen_smooth):  # noqa: D102  (BaseCAM's signature)
        return get_2d_projection_with_sign_correction(activations)


LIBRARY_CAMS: dict[str, type[BaseCAM]] = {
    "gradcam": GradCAM, "gradcampp": GradCAMPlusPlus, "xgradcam": XGradCAM, "layercam": LayerCAM,
    "eigencam": EigenCAM, "eigencam_signed": LibrarySignedEigenCAM, "scorecam": ScoreCAM}
"""``grad-cam``'s own class of every CAM method, by config name."""


Explain = Callable[[torch.Tensor, Sequence[int]], object]
"""A method under test: ``f(batch, targets)``."""


@dataclass
class Measurement:
    """One method of one model: how it is run and its seconds per image, one entry per round."""

    method: str
    run: Explain
    batch_size: int
    """Images per call of ``run``."""
    images: int
    rounds: int
    warm_up: bool
    seconds_per_image: list[float]


def parse_images(specs: Sequence[str]) -> dict[tuple[str | None, str], int]:
    """``[MODEL:]METHOD=N`` strings as ``{(model or None, method): N}``."""
    overrides = {}
    for spec in specs:
        target, _, count = spec.partition("=")
        model, _, method = target.rpartition(":")
        if (method not in (FORWARD, *METHODS) or (model and model not in MODELS)
                or not count.isdigit()):
            raise argparse.ArgumentTypeError(f"--images {spec!r}: expected [MODEL:]METHOD=N")
        overrides[(model or None, method)] = int(count)
    return overrides


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated models out of {', '.join(MODELS)}")
    parser.add_argument("--methods", default=None,
                        help="comma-separated attribution methods (the forward is always timed); "
                             "default: all but " + ", ".join(EXPENSIVE))
    parser.add_argument("--expensive", action="store_true",
                        help=f"allow {', '.join(EXPENSIVE)}; add them to the default methods")
    parser.add_argument("--library", action="store_true",
                        help="also time grad-cam's own class of every CAM method as the pipeline "
                             "ran it before issue 20 (<method>_library)")
    parser.add_argument("--batch-size-18", type=int, default=MODELS["resnet18"].default_batch_size,
                        help="images per explainer call for resnet18")
    parser.add_argument("--batch-size-152", type=int,
                        default=MODELS["resnet152"].default_batch_size,
                        help="images per explainer call for resnet152")
    parser.add_argument("--images", action="append", default=[], metavar="[MODEL:]METHOD=N",
                        help="images per measurement of a method (repeatable); defaults: "
                             "forward and fast CAMs 2 batches (resnet18) / 1 batch (resnet152); "
                             "resnet18 scorecam 2, shap 2, shap_partition 2; resnet152 1 each")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of side-by-side measurements")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, inputs and SHAP")
    args = parser.parse_args(argv)
    args.models = [name.strip() for name in args.models.split(",") if name.strip()]
    default = [m for m in METHODS if args.expensive or m not in EXPENSIVE]
    args.methods = ([name.strip() for name in args.methods.split(",") if name.strip()]
                    if args.methods else default)
    if unknown := set(args.models) - set(MODELS):
        parser.error(f"unknown model(s) {sorted(unknown)}; choose from {list(MODELS)}")
    if unknown := set(args.methods) - set(METHODS):
        parser.error(f"unknown method(s) {sorted(unknown)}; choose from {list(METHODS)}")
    if (expensive := set(args.methods) & set(EXPENSIVE)) and not args.expensive:
        parser.error(f"{sorted(expensive)} take minutes per image: add --expensive")
    try:
        args.images = parse_images(args.images)
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    args.batch_sizes = {"resnet18": args.batch_size_18, "resnet152": args.batch_size_152}
    return args


def images_per_measurement(setup: ModelSetup, method: str, batch_size: int,
                           overrides: dict[tuple[str | None, str], int]) -> int:
    """Images timed per round: an ``--images`` override, else the model's default (a
    ``<method>_library`` measurement takes its method's)."""
    method = method.removesuffix(LIBRARY)
    for key in ((setup.arch, method), (None, method)):
        if key in overrides:
            return overrides[key]
    if method in SLOW_METHODS:
        return setup.slow_images[method]
    return setup.fast_batches * batch_size


def frozen_model(setup: ModelSetup, seed: int) -> nn.Module:
    """The classifier with seeded random weights, frozen as ``attribute_shard`` freezes it."""
    torch.manual_seed(seed)
    model = build_classifier(setup.arch, NUM_CLASSES, cbam=False)
    return model.eval().requires_grad_(False)


def noise_images(n: int, size: int, rng: np.random.Generator) -> torch.Tensor:
    """``n`` random RGB noise images as normalised model inputs (n, 3, size, size)."""
    pixels = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    return torch.stack([to_input_tensor(image, size) for image in pixels])


def forward_only(model: nn.Module) -> Explain:
    """The shard job's prediction step: class probabilities without autograd."""
    def run(batch: torch.Tensor, targets: Sequence[int]) -> torch.Tensor:
        with torch.no_grad():
            return torch.softmax(model(batch), 1)
    return run


def library_cam(method: str, model: nn.Module, layers: Sequence[str],
                batch_size: int) -> Callable[[torch.Tensor, Sequence[int]], np.ndarray]:
    """``grad-cam``'s own class of ``method`` on ``model`` (hooks on ``layers``), as
    ``xaicut.attribution`` ran it before issue 20: gradients to the input where the method uses
    gradients, NumPy's default BLAS threads, autograd on; maps scaled by ``normalise_map``."""
    cam = LIBRARY_CAMS[method](model=model, target_layers=[model.get_submodule(n) for n in layers])
    cam.compute_input_gradient = cam.uses_gradients
    if isinstance(cam, ScoreCAM):
        cam.batch_size = batch_size

    def run(batch: torch.Tensor, targets: Sequence[int]) -> np.ndarray:
        maps = cam(input_tensor=batch, targets=[ClassifierOutputTarget(int(t)) for t in targets])
        return np.stack([normalise_map(m) for m in maps])
    return run


def build_explainer(method: str, model: nn.Module, setup: ModelSetup, batch_size: int,
                    background: torch.Tensor, seed: int) -> Explain:
    """The project's explainer of ``method`` with the settings of ``build_explainers``."""
    if method.endswith(LIBRARY):
        return library_cam(method.removesuffix(LIBRARY), copy.deepcopy(model),
                           [setup.target_layer], batch_size)
    if method in CAM_METHODS:
        return CamExplainer(method, copy.deepcopy(model), setup.target_layer, batch_size).explain
    if method == "shap":
        return ShapExplainer(model, background, SHAP_NSAMPLES, SHAP_SMOOTHING_SIGMA, seed).explain
    return PartitionShapExplainer(model, setup.input_size, PARTITION_MAX_EVALS,
                                  setup.partition_blur, batch_size, seed).explain


def plan_measurements(model: nn.Module, setup: ModelSetup, methods: Sequence[str],
                      batch_size: int, args: argparse.Namespace) -> list[Measurement]:
    """The forward and every method of ``methods``, with their image counts and rounds."""
    rng = np.random.default_rng(args.seed)
    background = noise_images(SHAP_BACKGROUND_SIZE, setup.input_size, rng)
    measurements = []
    library = [m + LIBRARY for m in methods if args.library and m in CAM_METHODS]
    for method in (FORWARD, *methods, *library):
        run = (forward_only(model) if method == FORWARD
               else build_explainer(method, model, setup, batch_size, background, args.seed))
        single = method.removesuffix(LIBRARY) in SINGLE_ROUND.get(setup.arch, ())
        images = images_per_measurement(setup, method, batch_size, args.images)
        measurements.append(Measurement(method, run, min(batch_size, images), images,
                                        1 if single else args.rounds, not single, []))
    return measurements


def time_per_image(measurement: Measurement, inputs: torch.Tensor, targets: np.ndarray) -> float:
    """Run the method on the first ``measurement.images`` inputs in batches; seconds per image."""
    step = measurement.batch_size
    start = time.perf_counter()
    for first in range(0, measurement.images, step):
        last = min(first + step, measurement.images)
        measurement.run(inputs[first:last], targets[first:last].tolist())
    return (time.perf_counter() - start) / measurement.images


def warm_up(measurements: Sequence[Measurement], inputs: torch.Tensor, targets: np.ndarray) -> None:
    """One untimed batch of every method that has ``warm_up`` set."""
    for measurement in measurements:
        if measurement.warm_up:
            log.info("warm-up %s (%d images)", measurement.method, measurement.batch_size)
            batch = slice(0, measurement.batch_size)
            measurement.run(inputs[batch], targets[batch].tolist())


def run_rounds(measurements: list[Measurement], inputs: torch.Tensor, targets: np.ndarray,
               rounds: int) -> None:
    """Time every method once per round (while it has rounds left), the order rotated by one
    from round to round; appends to ``seconds_per_image``."""
    for index in range(rounds):
        order = measurements[index % len(measurements):] + measurements[:index % len(measurements)]
        for measurement in order:
            if len(measurement.seconds_per_image) < measurement.rounds:
                seconds = time_per_image(measurement, inputs, targets)
                measurement.seconds_per_image.append(seconds)
                log.info("round %d/%d %s: %.4f s/image", index + 1, rounds, measurement.method,
                         seconds)


def benchmark_model(setup: ModelSetup, batch_size: int, args: argparse.Namespace) -> pd.DataFrame:
    """Measure the forward and every requested method on one model; one row per method."""
    log.info("%s: batch size %d, target layer %s", setup.key, batch_size, setup.target_layer)
    model = frozen_model(setup, args.seed)
    measurements = plan_measurements(model, setup, args.methods, batch_size, args)
    pool_size = max(m.images for m in measurements)
    inputs = noise_images(pool_size, setup.input_size, np.random.default_rng(args.seed + 1))
    with torch.no_grad():
        targets = model(inputs).argmax(1).numpy()
    warm_up(measurements, inputs, targets)
    run_rounds(measurements, inputs, targets, args.rounds)
    return summarise(measurements)


def summarise(measurements: Sequence[Measurement]) -> pd.DataFrame:
    """Median seconds per image, images per second and the ratio to the forward, per method."""
    rows = [{"method": m.method, "batch_size": m.batch_size,
             "images_timed": m.images * len(m.seconds_per_image),
             "rounds": len(m.seconds_per_image),
             "seconds_per_image": statistics.median(m.seconds_per_image)} for m in measurements]
    table = pd.DataFrame(rows).set_index("method")
    table["images_per_second"] = 1.0 / table["seconds_per_image"]
    table["vs_forward"] = table["seconds_per_image"] / table.at[FORWARD, "seconds_per_image"]
    return table


def format_table(key: str, table: pd.DataFrame, batch_size: int) -> str:
    """A readable table of one model."""
    with pd.option_context("display.width", 200):
        body = table.to_string(formatters={
            "seconds_per_image": "{:.4f}".format, "images_per_second": "{:.3f}".format,
            "vs_forward": "{:.2f}x".format})
    text = (f"{key} (batch size {batch_size}; seconds per image: median over rounds; "
            f"vs_forward: seconds per image / forward's)\n{body}")
    for method in TARGET_METHODS:
        if method in table.index:
            ratio = table.at[method, "vs_forward"]
            verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
            text += (f"\n{method} / forward = {ratio:.2f}x "
                     f"(target <= {TARGET_RATIO:g}x: {verdict})")
    if "shap" in table.index:
        text += (f"\nshap: {table.at['shap', 'seconds_per_image'] / SHAP_NSAMPLES:.4f} s per "
                 f"image per sample (nsamples {SHAP_NSAMPLES})")
    return text


def headline(table: pd.DataFrame, batch_size: int) -> dict:
    """The JSON entry of one model: ``batch_size``, ``<method>_ips``, ``<method>_vs_forward``
    and ``shap_seconds_per_sample``, rounded to 4 decimals."""
    entry: dict = {"batch_size": batch_size}
    for method, row in table.iterrows():
        entry[f"{method}_ips"] = round(float(row["images_per_second"]), 4)
        if method != FORWARD:
            entry[f"{method}_vs_forward"] = round(float(row["vs_forward"]), 4)
    if "shap" in table.index:
        entry["shap_seconds_per_sample"] = round(
            float(table.at["shap", "seconds_per_image"]) / SHAP_NSAMPLES, 4)
    return entry


def load_average() -> str:
    """The 1, 5 and 15 minute load averages of the machine."""
    return ", ".join(f"{load:.2f}" for load in os.getloadavg())


def main(argv: Sequence[str] | None = None) -> None:
    """Benchmark every requested model; print the tables and the JSON line to stdout."""
    args = parse_args(argv)
    setup_logging(None)
    torch.set_num_threads(THREADS)
    log.info("xaicut.attribution from %s; torch %s, %d threads",
             sys.modules[CamExplainer.__module__].__file__, torch.__version__,
             torch.get_num_threads())
    load_before, start = load_average(), time.perf_counter()
    results = {}
    for name in args.models:
        setup, batch_size = MODELS[name], args.batch_sizes[name]
        table = benchmark_model(setup, batch_size, args)
        results[setup.key] = (table, batch_size)
        print(format_table(setup.key, table, batch_size) + "\n", flush=True)
    print(f"wall time {time.perf_counter() - start:.0f} s; load average (1, 5, 15 min) "
          f"before {load_before}, after {load_average()}")
    print(json.dumps({key: headline(table, batch_size)
                      for key, (table, batch_size) in results.items()}))


if __name__ == "__main__":
    main()
