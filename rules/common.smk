# Shared helpers: config validation, result paths, shard lists, GPU resources.

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from xaicut.config import check_consistency
from xaicut.settings import (
    asked_segment_stages,
    export_variant,
    exported_stages,
    external_datasets,
    scored_segment_stages,
    variant_names,
    variant_train_settings,
)
from xaicut.layout import SUPERVISED, UNET_STAGE, Layout
from xaicut.report.inputs import COSTS_INPUT, MaskCoverage, report_inputs
from xaicut.shards import (
    AUTO_EXPORT,
    DATASET_PATTERN,
    GRAPHCUT_STAGE,
    IMAGE_PRIOR,
    OTSU_STAGE,
    SHARD_PATTERN,
    STUDY_SPLITS,
    has_masks_in,
    segment_stage_names,
    segmented_splits,
    shard_dataset,
    split_shards,
    stage_variant,
    student_stage_names,
)

validate(config, "../schemas/config.schema.yaml")
check_consistency(config)
VARIANTS = variant_names(config)
UNET = config["unet"]["enabled"]
UNET_WEIGHTS = config["unet"]["pretrained_weights"]
# A bad weights file stops the run now, not after ingest. Only a config naming weights imports
# torch here: every other DAG build stays free of it.
WEIGHTS = [
    (s["pretrained_weights"], s["arch"])
    for s in (variant_train_settings(config, v) for v in VARIANTS)
    if s["pretrained_weights"]
] + ([(UNET_WEIGHTS, config["unet"]["encoder"])] if UNET and UNET_WEIGHTS else [])
if WEIGHTS:
    from xaicut.model import check_pretrained_weights

    for weights, arch in WEIGHTS:
        check_pretrained_weights(weights, arch)

# Every output path comes from the layout (xaicut.layout); RESULTS and RUN root the logs.
LAYOUT = Layout.from_config(config)
RESULTS = LAYOUT.results
# Outputs from fuse on depend on cheap parameters: keyed by run name, side by side.
RUN = LAYOUT.run
DEMO = config["data_dir"] == "demo"
EXTERNAL = external_datasets(config)
DATA_DIR = LAYOUT.demo_data if DEMO else Path(config["data_dir"])
FUSE_STAGES = [*config["attribute"]["methods"], "fused"]
SEGMENT_STAGES = segment_stage_names(config["seeding"]["modes"])
# Graph cuts (stage -> seed mode) of rule segment, computed whether or not the run scores, and
# of rule segment_scored, only for evaluate (the scoring config keeps every seed mode).
ASKED_STAGES = asked_segment_stages(config)
SCORED_STAGES = scored_segment_stages(config)
# seeding less its modes: each segment rule is given the modes of its own stages.
SEED_SETTINGS = {k: v for k, v in config["seeding"].items() if k != "modes"}
# What the Otsu lesion depends on (the otsu job of a shard; one per run, no classifier).
OTSU_SEEDING = {k: config["seeding"][k] for k in ("vignette", "min_area_fraction")}
# Splits of the main dataset attributed, fused and segmented: the exported ones, val and test.
SEGMENTED_SPLITS = segmented_splits(config["export"]["splits"])
EXPORT_VARIANT = export_variant(config)
EXPORT_STAGE = config["export"]["stage"]
STUDENT = config["student"]["enabled"]
# Round k's student learns from round k-1's student-seeded graph cuts; the last one's stages count.
STUDENT_ROUNDS = config["student"]["rounds"]
# What pseudo_labels reads, and what train_student reads (changing how pseudo-labels are made
# reruns it through their table); the adapt_* keys concern external datasets only.
PSEUDO_LABELLING = ("keep_fraction", "transductive", "ignore", "boundary_width")
STUDENT_TRAINING = {
    k: v
    for k, v in config["student"].items()
    if k not in ("enabled", "rounds", "flip_average", *PSEUDO_LABELLING)
    and not k.startswith("adapt")
}
# One round of one teacher's self-training: pseudo-labels, model, and (before the last round)
# the student's masks of the train and validation shards that teach the next round.
STUDENT_ROUND = LAYOUT.student_round("{teacher}", "{round}")
# The exported variant's student fine-tuned on an external dataset's own pseudo-labels.
ADAPTED = LAYOUT.adapted_student("{dataset}")
# Teachers of the students and their graph-cut stage: the exported variant (the only one with
# masks of its training images) and the image prior (the Otsu-seeded graph cut, no classifier).
TEACHER_STAGE = {EXPORT_VARIANT: GRAPHCUT_STAGE, IMAGE_PRIOR: "graphcut_otsu"}


def benchmark_file(rule, *wildcards, shared=False):
    """Snakemake's benchmark file of ``rule``'s jobs (Layout.benchmark): one folder level per
    wildcard name; ``shared``: a rule whose outputs every run name shares."""
    return LAYOUT.benchmark(rule, shared, **{w: f"{{{w}}}" for w in wildcards})


def gpu_resources():
    """Resources of GPU-capable rules: one GPU when the config device is cuda."""
    return {"gpu": 1} if config["device"] == "cuda" else {}


@lru_cache(maxsize=16)
def _read_manifest(path, modified):
    """A manifest CSV, read once per version (``modified``: its mtime); callers must not
    modify the frame."""
    return pd.read_csv(path)


def _manifest(path):
    return _read_manifest(str(path), Path(path).stat().st_mtime_ns)


def main_manifest():
    """The main dataset's manifest (known once the ingest checkpoint has run)."""
    return _manifest(checkpoints.ingest.get().output.manifest)


def external_manifest(dataset):
    """The manifest of external dataset ``dataset`` (once its ingest checkpoint has run)."""
    return _manifest(checkpoints.ingest_external.get(dataset=dataset).output.manifest)


def shards_of(split):
    """Shard names of one split of the main dataset."""
    return split_shards(main_manifest(), config["attribute"]["shard_size"], split)


def test_shards():
    """Shard names of the test split: fused, segmented and scored."""
    return shards_of("test")


def has_masks(*splits, dataset=""):
    """Whether any image of ``splits`` (all when none given) of the main or an external
    dataset has a ground-truth mask: the stages that need masks run only then."""
    manifest = external_manifest(dataset) if dataset else main_manifest()
    return has_masks_in(manifest, *splits)


def study_runs():
    """The threshold study needs validation or test images with a mask; auto needs validation
    masks (a config that asks for it on a collection without stops here, naming the setting).
    """
    if config["fuse"]["threshold_method"] == "auto" and not has_masks("val"):
        raise WorkflowError(
            "fuse.threshold_method: auto chooses each map's threshold on validation masks, and "
            "no validation image has a ground-truth mask; use otsu (label-free) instead"
        )
    return has_masks(*STUDY_SPLITS)


def unet_runs():
    """The supervised U-Net baseline runs when enabled and train and val images have masks."""
    return UNET and has_masks("train") and has_masks("val")


def dataset_shards(dataset=""):
    """Every segmented shard of the main dataset (segmented splits) or of an external one."""
    if dataset:
        size = config["attribute"]["shard_size"]
        return split_shards(external_manifest(dataset), size, "test", dataset)
    return [sh for split in SEGMENTED_SPLITS for sh in shards_of(split)]


def shard_manifest(wildcards):
    """The manifest the job's shard is cut from."""
    return str(LAYOUT.manifest(shard_dataset(wildcards.shard)))


def scored_shards(wildcards):
    """Shards an evaluate job scores: the test split, or all of an external dataset."""
    dataset = getattr(wildcards, "dataset", "")
    return dataset_shards(dataset) if dataset else test_shards()


def self_supervised_weights(settings):
    """The pretrain output a variant starts from (train.init self_supervised), else None."""
    if settings["init"] == "self_supervised":
        return LAYOUT.pretrain(settings["arch"]) / "encoder.pt"
    return None


def variant_train(wildcards):
    """The train settings of the job's classifier variant (self-supervised weights filled in)."""
    settings = variant_train_settings(config, wildcards.variant)
    weights = self_supervised_weights(settings)
    return (
        settings
        if weights is None
        else {**settings, "pretrained_weights": str(weights)}
    )


def member_train(wildcards):
    """The train settings of one ensemble member: the variant's, less the member count (so that
    adding members leaves the trained ones up to date)."""
    return {k: v for k, v in variant_train(wildcards).items() if k != "members"}


def member_files(wildcards, name):
    """File ``name`` (model.pt, history.csv) of every member of the job's variant."""
    members = variant_train_settings(config, wildcards.variant)["members"]
    return [str(LAYOUT.member(wildcards.variant, m) / name) for m in range(members)]


def train_inputs(wildcards):
    """Inputs of train_member: dataset B, and the self-supervised weights the variant starts from."""
    weights = self_supervised_weights(variant_train_settings(config, wildcards.variant))
    return {
        "dataset": LAYOUT.dataset_b,
        **({"weights": weights} if weights else {}),
    }


def attribution_dirs(wildcards):
    """Attribution folders of one variant's attributed shards (validation and test)."""
    return [
        str(LAYOUT.attribution(wildcards.variant, sh))
        for sh in shards_of("val") + test_shards()
    ]


def faithfulness_tables(wildcards):
    """Per-shard deletion tables of one variant's attributed shards."""
    return [
        str(LAYOUT.deletion_shard(wildcards.variant, sh))
        for sh in shards_of("val") + test_shards()
    ]


def auto_thresholds_input(wildcards):
    """The variant's validation thresholds when ``fuse.threshold_method`` is auto."""
    if config["fuse"]["threshold_method"] != "auto":
        return []
    study_runs()  # stops with the setting named when no validation image has a mask
    return [str(LAYOUT.auto_thresholds(wildcards.variant))]


def teacher_shards():
    """Shards whose masks teach a student: the train and validation splits, and the test split
    when ``student.transductive``."""
    splits = ["train", "val"] + (["test"] if config["student"]["transductive"] else [])
    return [shard for split in splits for shard in shards_of(split)]


def teacher_mask_dirs(wildcards):
    """The mask folders of the train and validation shards that teach round ``round``: the
    teacher's graph cut in round 1, the graph cut seeded by round k-1's student after.
    """
    previous = int(wildcards.round) - 1
    teacher = wildcards.teacher
    if previous == 0:
        stage = TEACHER_STAGE[teacher]
        return [str(LAYOUT.masks(teacher, stage, sh)) for sh in teacher_shards()]
    stage = student_stage_names("")[1]
    return [
        str(LAYOUT.round_masks(teacher, previous, stage, sh)) for sh in teacher_shards()
    ]


def student_encoder(wildcards):
    """The classifier whose body starts the student's encoder (student.encoder_from_classifier):
    the teacher variant's first member; none for the image prior's student."""
    if (
        wildcards.teacher == IMAGE_PRIOR
        or not config["student"]["encoder_from_classifier"]
    ):
        return {}
    return {"encoder": str(LAYOUT.member(wildcards.teacher, 0) / "model.pt")}


def final_student_model(teacher):
    """The model of a teacher's last self-training round, whose masks are its stages."""
    return str(LAYOUT.student_round(teacher, STUDENT_ROUNDS) / "model.pt")


def student_model(wildcards):
    """The model of the exported variant's student for a shard: fine-tuned on an external
    dataset's pseudo-labels when student.adapt, else the main dataset's."""
    dataset = shard_dataset(wildcards.shard)
    if dataset and config["student"]["adapt"]:
        return str(LAYOUT.adapted_student(dataset) / "model.pt")
    return final_student_model(wildcards.variant)


def external_mask_dirs(wildcards, stage):
    """The exported variant's mask folders of ``stage`` for every shard of an external dataset."""
    return [
        str(LAYOUT.masks(EXPORT_VARIANT, stage, sh))
        for sh in dataset_shards(wildcards.dataset)
    ]


def otsu_mask_dirs(shards):
    """The Otsu lesions (rule otsu, one folder per run) of ``shards``."""
    return [str(LAYOUT.masks(IMAGE_PRIOR, OTSU_STAGE, sh)) for sh in shards]


def evidence_mask_dirs(wildcards):
    """The Otsu lesions of the shards whose masks teach a student (the evidence a pseudo-label's
    teacher is checked by): the train and validation shards, or every shard of the external
    dataset a student adapts to."""
    dataset = getattr(wildcards, "dataset", "")
    return otsu_mask_dirs(dataset_shards(dataset) if dataset else teacher_shards())


def segmented_otsu_dirs(wildcards):
    """The Otsu lesions of every segmented shard of the main and the external datasets."""
    return otsu_mask_dirs([sh for d in ["", *EXTERNAL] for sh in dataset_shards(d)])


def classifier_free_stages():
    """The stages evaluate scores with variant ``image_prior`` (no classifier, once per run): the
    Otsu lesion and, with the student, the graph cut it seeds and the student it teaches.
    """
    student = ["graphcut_otsu", *student_stage_names(IMAGE_PRIOR)] if STUDENT else []
    return [OTSU_STAGE, *student]


def scored_mask_folders(wildcards):
    """(variant, stage, folder) of every per-shard mask folder that evaluate scores, in stage
    order: fuse and segment stages per variant, the exported variant's student, the stages
    without classifier (variant ``image_prior``) and (main dataset) the supervised U-Net when it
    runs (variant ``supervised``). External datasets are scored on the same stages: the
    students segment them directly (trained on the main dataset).
    """
    main = not getattr(wildcards, "dataset", "")
    pairs = [(v, s) for v in VARIANTS for s in [*FUSE_STAGES, *SEGMENT_STAGES]]
    pairs += (
        [(EXPORT_VARIANT, s) for s in student_stage_names(EXPORT_VARIANT)]
        if STUDENT
        else []
    )
    pairs += [(IMAGE_PRIOR, s) for s in classifier_free_stages()]
    pairs += [(SUPERVISED, UNET_STAGE)] if main and unet_runs() else []
    shards = scored_shards(wildcards)
    return [
        (v, s, str(LAYOUT.scored_masks(v, s, sh))) for v, s in pairs for sh in shards
    ]


def segment_tables(wildcards):
    """Per-shard graph-cut status tables of every variant: of rule segment and of rule
    segment_scored (each when it has stages)."""
    shards = scored_shards(wildcards)
    tables = [LAYOUT.segment_table] if ASKED_STAGES else []
    tables += [LAYOUT.scored_segment_table] if SCORED_STAGES else []
    return [str(t(v, sh)) for v in VARIANTS for t in tables for sh in shards]


def status_table(stage):
    """The layout's status table (variant, shard) of the exported variant's ``stage``: the
    student's for a student stage, segment's for a graph cut, None for a stage without one.
    """
    if stage in student_stage_names(EXPORT_VARIANT):
        return LAYOUT.student_segment_table
    return LAYOUT.segment_table if stage in ASKED_STAGES else None


def student_history(dataset):
    """The history of the exported variant's student that segments ``dataset``'s shards ('' =
    the main dataset): the fine-tuned one of an external dataset when student.adapt."""
    if dataset and config["student"]["adapt"]:
        return str(LAYOUT.adapted_student(dataset) / "history.csv")
    return str(LAYOUT.student_round(EXPORT_VARIANT, STUDENT_ROUNDS) / "history.csv")


def export_inputs(wildcards):
    """What export reads for one dataset, per segmented shard: the exported variant's masks of
    the exported stage(s) (for otsu the run's one Otsu folder), its attribution maps and, for a
    graph-cut or student stage, its status tables; for export.stage auto, the student's
    training history that decides.
    """
    dataset = getattr(wildcards, "dataset", "")
    shards = dataset_shards(dataset)
    stages = exported_stages(config)
    tables = [table for table in map(status_table, stages) if table]
    inputs = {
        "masks": [
            str(LAYOUT.masks(stage_variant(EXPORT_VARIANT, stage), stage, sh))
            for stage in stages
            for sh in shards
        ],
        "maps": [str(LAYOUT.attribution(EXPORT_VARIANT, sh)) for sh in shards],
        "segment": [
            str(table(EXPORT_VARIANT, sh))
            for table in dict.fromkeys(tables)
            for sh in shards
        ],
    }
    if EXPORT_STAGE == AUTO_EXPORT and STUDENT:
        inputs["student_history"] = student_history(dataset)
    return inputs


def report_files_before_ingest(wildcards):
    """What the report always reads (xaicut.report.inputs): data, exported table and the
    classifier tables. No checkpoint is consulted, so a dry run before ingest already plans
    the training."""
    return report_inputs(LAYOUT, VARIANTS, list(EXTERNAL)).files()


def report_scored_files(wildcards):
    """What the report reads of the scores the ground-truth masks allow (after ingest)."""
    coverage = MaskCoverage.of(
        main_manifest(), {d: external_manifest(d) for d in EXTERNAL}
    )
    return report_inputs(LAYOUT, VARIANTS, list(EXTERNAL), coverage).scored_files()


def run_products(wildcards):
    """What a run delivers besides its report: the exported tables of the main and the external
    datasets and the Otsu baseline of every segmented shard (whatever reads it)."""
    tables = [str(LAYOUT.segmentations_table(d)) for d in ["", *EXTERNAL]]
    return tables + segmented_otsu_dirs(wildcards)


def costed_outputs(wildcards):
    """The inputs of rule costs (everything the report reads but the costs table, and the
    run's other products), so that every job of the run but report has written its benchmark.
    """
    reads = {
        **report_files_before_ingest(wildcards),
        **report_scored_files(wildcards),
    }
    files = [f for name, paths in reads.items() if name != COSTS_INPUT for f in paths]
    return files + run_products(wildcards)


def benchmark_manifests():
    """Manifest path per dataset ('' the main one): the images of each costed job."""
    return {d: str(LAYOUT.manifest(d)) for d in ["", *EXTERNAL]}


wildcard_constraints:
    shard=SHARD_PATTERN,
    dataset=DATASET_PATTERN,
    variant="|".join(re.escape(v) for v in VARIANTS),
    teacher="|".join(re.escape(t) for t in TEACHER_STAGE),
    member=r"\d+",
    round=r"[1-9]\d*",
