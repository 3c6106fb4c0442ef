"""The results layout: where every stage's outputs live (docs/data-contracts.md).

``Layout(results, run)`` turns a results folder (config ``results_dir``) and a run name (config
``run``) into the path of any output, from the variant, stage, shard, dataset, … it belongs to.
Pure path arithmetic: no I/O and no heavy import, so the Snakefile spells its rules' paths with
it (passing wildcard placeholders such as ``"{variant}"`` through), and the export, the scores,
the report and the summary find their inputs with it. Nothing reads a variant or a stage back
from a folder name: whoever needs them is given them.

Data, models, attribution maps, threshold studies and the supervised U-Net are shared by every
run name; masks, metrics, exports and the report sit below ``run`` (``{results}/runs/{run}``).
A ``dataset`` argument is an external dataset's name (config ``external``), ``""`` the main one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPERVISED = "supervised"
"""Variant name, in place of a classifier variant, of the supervised U-Net baseline."""
UNET_STAGE = "unet"
"""Stage of the supervised U-Net baseline (variant ``SUPERVISED``: it has no classifier)."""
CLASSIFIER_TABLES = ("history", "classification_report", "test_predictions")
"""CSV tables of a classifier variant (contracts §3), by name."""
STUDY_TABLES = ("jaccard_curves", "best_thresholds", "by_outcome", "mann_whitney")
"""CSV tables of a variant's threshold study (contracts §4b), by name."""
METRICS_TABLES = ("per_image", "summary", "summary_per_class", "stage_ablation", "unet_vs_xai")
"""CSV tables ``evaluate`` writes for a dataset (contracts §7), by name."""


@dataclass(frozen=True)
class Layout:
    """The paths of one results folder and run name (contracts: the section of each output)."""

    results: Path
    run_name: str = "default"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layout:
        """The layout of a validated config (keys ``results_dir`` and ``run``)."""
        return cls(Path(config["results_dir"]), config["run"])

    @property
    def run(self) -> Path:
        """The folder of the run name: what depends on fuse, seeding, segment or report settings."""
        return self.results / "runs" / self.run_name

    # --- shared by every run name (§0-4c) --------------------------------------------------

    @property
    def demo_data(self) -> Path:
        """The generated demo dataset (``data_dir: demo``), in the HAM10000 release layout (§0)."""
        return self.results / "demo_data"

    def data(self, dataset: str = "") -> Path:
        """The ingested data's folder: ``data/`` or ``external/{dataset}/`` (§1, §9)."""
        return self.results / "external" / dataset if dataset else self.results / "data"

    def manifest(self, dataset: str = "") -> Path:
        """The manifest of the main or an external dataset (§1)."""
        return self.data(dataset) / "manifest.csv"

    def rejected(self, dataset: str = "") -> Path:
        """The inputs ingest left out (§1b)."""
        return self.data(dataset) / "rejected.csv"

    @property
    def dataset_b(self) -> Path:
        """Dataset B: the training table with augmented copies (§2)."""
        return self.data() / "dataset_b.csv"

    @property
    def augmented(self) -> Path:
        """The folder of the augmented copies' JPEGs (§2)."""
        return self.data() / "augmented"

    def pretrain(self, arch: str) -> Path:
        """The self-supervised pretraining of one ResNet architecture (§3b)."""
        return self.results / "pretrain" / arch

    def train(self, variant: str) -> Path:
        """A classifier variant's folder: ``model.pt`` and the classifier tables (§3)."""
        return self.results / "train" / variant

    def classifier_table(self, variant: str, name: str) -> Path:
        """Table ``name`` (one of ``CLASSIFIER_TABLES``) of a classifier variant (§3)."""
        return self.train(variant) / f"{name}.csv"

    def member(self, variant: str, member: int | str) -> Path:
        """One ensemble member's folder (§3)."""
        return self.train(variant) / "members" / str(member)

    def attribution(self, variant: str, shard: str) -> Path:
        """A shard's attribution maps, one HDF5 file per image and method (§4)."""
        return self.results / "attribution" / variant / shard

    def faithfulness(self, variant: str) -> Path:
        """A variant's deletion-faithfulness folder (§4, §4b)."""
        return self.results / "faithfulness" / variant

    def deletion_shard(self, variant: str, shard: str) -> Path:
        """A shard's deletion table (§4)."""
        return self.faithfulness(variant) / f"{shard}.csv"

    def faithfulness_summary(self, variant: str) -> Path:
        """Mean probability drop per method and deleted fraction (§4b)."""
        return self.faithfulness(variant) / "summary.csv"

    def thresholds(self, variant: str) -> Path:
        """A variant's threshold-study folder (§4b)."""
        return self.results / "thresholds" / variant

    def study_table(self, variant: str, name: str) -> Path:
        """Table ``name`` (one of ``STUDY_TABLES``) of a variant's threshold study (§4b)."""
        return self.thresholds(variant) / f"{name}.csv"

    def auto_thresholds(self, variant: str) -> Path:
        """The best validation threshold per method, JSON (§4b)."""
        return self.thresholds(variant) / "auto_thresholds.json"

    @property
    def supervised(self) -> Path:
        """The supervised U-Net baseline's folder (§4c)."""
        return self.results / SUPERVISED

    def unet_masks(self, shard: str) -> Path:
        """The U-Net's masks of one shard (§4c)."""
        return self.supervised / UNET_STAGE / shard

    def benchmark(self, rule: str, shared: bool = False, **wildcards: str) -> Path:
        """Snakemake's benchmark file of one job of ``rule`` (§10): below the results folder for
        a rule whose outputs every run name shares (``shared``), below the run otherwise; one
        folder level ``name=value`` per wildcard, in the order given, the last one the file."""
        parts = [f"{name}={value}" for name, value in wildcards.items()] or [rule]
        folder = self.benchmarks(shared) / rule if wildcards else self.benchmarks(shared)
        return folder.joinpath(*parts[:-1]) / f"{parts[-1]}.tsv"

    def benchmarks(self, shared: bool = False) -> Path:
        """The folder of the benchmark files of the shared rules or of the run's (§10)."""
        return (self.results if shared else self.run) / "benchmarks"

    # --- per run name (§5-9) ---------------------------------------------------------------

    def masks(self, variant: str, stage: str, shard: str) -> Path:
        """One stage's masks of one shard, for a classifier variant or the image prior (§5-6c)."""
        return self.run / "masks" / variant / stage / shard

    def scored_masks(self, variant: str, stage: str, shard: str) -> Path:
        """Where ``evaluate`` reads a (variant, stage)'s masks of a shard: ``masks`` for every
        stage but the supervised U-Net's, which is shared by every run name."""
        if variant == SUPERVISED:
            return self.unet_masks(shard)
        return self.masks(variant, stage, shard)

    def segment_table(self, teacher: str, shard: str) -> Path:
        """The graph-cut status table of a shard, of a classifier variant or the image prior
        (§6)."""
        return self.run / "segment" / teacher / f"{shard}.csv"

    def scored_segment_table(self, variant: str, shard: str) -> Path:
        """The status table of a shard's graph cuts that only ``evaluate`` reads (§6)."""
        return self.run / "segment" / variant / "scored" / f"{shard}.csv"

    def student(self, teacher: str) -> Path:
        """The self-training folder of one teacher (§6c)."""
        return self.run / "student" / teacher

    def student_round(self, teacher: str, round_: int | str) -> Path:
        """One self-training round of one teacher: pseudo-labels, model, masks (§6c)."""
        return self.student(teacher) / f"round{round_}"

    def round_masks(self, teacher: str, round_: int | str, stage: str, shard: str) -> Path:
        """A student stage's masks of one shard in a round before the last (§6c)."""
        return self.student_round(teacher, round_) / "masks" / stage / shard

    def round_segment_table(self, teacher: str, round_: int | str, shard: str) -> Path:
        """The status table of a round's student graph cut on a shard (§6c)."""
        return self.student_round(teacher, round_) / "segment" / f"{shard}.csv"

    def student_segment_table(self, teacher: str, shard: str) -> Path:
        """The status table of the last student's graph cut on a shard (§6c)."""
        return self.student(teacher) / "segment" / f"{shard}.csv"

    def dataset_run(self, dataset: str = "") -> Path:
        """The run's folder of the main dataset (the run itself) or of an external one (§9)."""
        return self.run / "external" / dataset if dataset else self.run

    def adapted_student(self, dataset: str) -> Path:
        """The exported variant's student fine-tuned on an external dataset (§6c)."""
        return self.dataset_run(dataset) / "student"

    def segmentations(self, dataset: str = "") -> Path:
        """The exported masks' folder, the deliverable (§6b)."""
        return self.dataset_run(dataset) / "segmentations"

    def segmentations_table(self, dataset: str = "") -> Path:
        """The exported masks' table (§6b)."""
        return self.dataset_run(dataset) / "segmentations.csv"

    def metrics(self, dataset: str = "") -> Path:
        """The scores' folder (§6b, §7)."""
        return self.dataset_run(dataset) / "metrics"

    def metrics_table(self, name: str, dataset: str = "") -> Path:
        """Table ``name`` (one of ``METRICS_TABLES``) that ``evaluate`` writes (§7)."""
        return self.metrics(dataset) / f"{name}.csv"

    @property
    def segmentation_scores(self) -> Path:
        """The exported masks' scores by split (§6b)."""
        return self.metrics() / "segmentations_by_split.csv"

    @property
    def segmentation_scores_per_image(self) -> Path:
        """The exported masks' scores per image (§6b)."""
        return self.metrics() / "segmentations_per_image.csv"

    @property
    def costs(self) -> Path:
        """Seconds and peak memory per job and per image, from the benchmark files (§10)."""
        return self.run / "costs.csv"

    @property
    def report(self) -> Path:
        """The run's HTML report (§8)."""
        return self.run / "report" / "report.html"

