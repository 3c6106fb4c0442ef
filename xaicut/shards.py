"""Sharding of the segmented splits and stage names: attribute, fuse and segment work on shards.

A shard is named after its split and index, ``train000``, ``val000``, ``test000``, …: the images of
that split sorted by image id, ``shard_size`` at a time. Shards of an external dataset (config
``external``, scored with the models trained on the main one) carry its name: ``ph2-test000``. Kept
free of heavy imports: the Snakefile uses it to build the DAG.
"""

from __future__ import annotations

import re

import pandas as pd

SPLITS = ("train", "val", "test")
ALWAYS_SEGMENTED = ("val", "test")
"""Splits that always get attribution maps and masks: ``test`` is scored, ``val`` serves the
threshold study (``fuse.threshold_method: auto`` picks its thresholds there)."""

DATASET_PATTERN = r"[A-Za-z0-9_]+"
"""Regular expression of an external dataset's name (a shard-name prefix, so no '-')."""
SHARD_PATTERN = rf"(?:{DATASET_PATTERN}-)?(?:train|val|test)[0-9]+"
"""Regular expression of a shard name (the Snakefile's wildcard constraint)."""


def shard_names(n_images: int, shard_size: int, split: str = "test",
                dataset: str = "") -> list[str]:
    """Return the shard names ``{split}000``… (``{dataset}-{split}000``… for an external
    dataset) covering ``n_images`` images of ``split`` (at least one shard, possibly empty, so
    that every stage has a job)."""
    prefix = f"{dataset}-" if dataset else ""
    return [f"{prefix}{split}{i:03d}" for i in range(max(1, -(-n_images // shard_size)))]


def split_shards(manifest: pd.DataFrame, shard_size: int, split: str,
                 dataset: str = "") -> list[str]:
    """Shard names of ``split`` for a manifest (contracts §2); ``dataset``: external name."""
    return shard_names(int((manifest.split == split).sum()), shard_size, split, dataset)


def segmented_splits(export_splits: list[str]) -> list[str]:
    """Splits of the main dataset that are attributed, fused and segmented: the exported ones
    (config ``export.splits``) and always validation and test, in split order."""
    return [s for s in SPLITS if s in export_splits or s in ALWAYS_SEGMENTED]


def shard_split(shard: str) -> str:
    """The split a shard belongs to (``ph2-test003`` → ``test``)."""
    return shard.split("-", 1)[-1].rstrip("0123456789")


def shard_dataset(shard: str) -> str:
    """The external dataset a shard belongs to, '' for the main dataset."""
    return shard.split("-", 1)[0] if "-" in shard else ""


def shard_rows(manifest: pd.DataFrame, shard: str, shard_size: int) -> pd.DataFrame:
    """Return the manifest rows in ``shard`` (its split's images sorted by image id)."""
    if not re.fullmatch(SHARD_PATTERN, shard):
        raise ValueError(f"not a shard name: {shard!r} (expected e.g. test000 or val000)")
    split = shard_split(shard)
    index = int(shard[len(shard.rstrip("0123456789")):])
    rows = manifest[manifest.split == split].sort_values("image_id")
    return rows.iloc[index * shard_size : (index + 1) * shard_size]


def image_shards(manifest: pd.DataFrame, shard_size: int) -> pd.Series:
    """Each image's shard name (index ``image_id``) in the main dataset, as ``shard_rows`` cuts
    the splits."""
    ordered = manifest.sort_values("image_id")
    index = ordered.groupby("split").cumcount() // shard_size
    names = ordered.split + index.map("{:03d}".format)
    return pd.Series(names.to_numpy(), index=ordered.image_id.to_numpy())


def has_masks_in(manifest: pd.DataFrame, *splits: str) -> bool:
    """Whether any image of ``splits`` (all when none given) has a ground-truth mask: the
    stages that need masks run only then (contracts §1)."""
    if splits:
        manifest = manifest[manifest.split.isin(splits)]
    return bool(manifest.has_mask.any())


STUDY_SPLITS = ("val", "test")
"""Splits whose masks the threshold study scores maps against: it runs when one has a mask."""
SCORED_SPLIT = "test"
"""The split of the main dataset that ``evaluate`` scores (external datasets: every image)."""


GRAPHCUT_STAGE = "graphcut"
"""Stage of the first seed mode's graph cut: what a classifier variant teaches its student."""


def segment_stage_names(modes: list[str]) -> list[str]:
    """Stage names of the graph-cut masks: ``graphcut`` for the first mode, then
    ``graphcut_{mode}``."""
    return [GRAPHCUT_STAGE] + [f"graphcut_{mode}" for mode in modes[1:]]


def segment_stage_modes(modes: list[str]) -> dict[str, str]:
    """Each graph-cut stage (:func:`segment_stage_names`) → its seed mode, in ``modes`` order."""
    return dict(zip(segment_stage_names(modes), modes))


IMAGE_PRIOR = "image_prior"
"""Folder name, in place of a classifier variant, of the stages that use no classifier: the Otsu
lesion (``OTSU_STAGE``), the graph cut it seeds (``graphcut_otsu``) and the student it teaches.
Each is computed and scored once per run, not per classifier variant."""
OTSU_STAGE = "otsu"
"""Stage of the Otsu lesion of the image alone (``xaicut.seeds.otsu_seed``): the baseline every
classifier variant is compared with and the pseudo-labels' evidence, in the ``IMAGE_PRIOR``
folder."""


def stage_variant(variant: str, stage: str) -> str:
    """The variant folder of ``stage``'s masks as classifier ``variant`` sees them: ``IMAGE_PRIOR``
    for ``OTSU_STAGE`` (one per run), else ``variant``."""
    return IMAGE_PRIOR if stage == OTSU_STAGE else variant


def student_stage_names(teacher: str) -> list[str]:
    """Stages of the student taught by ``teacher`` (a classifier variant or ``IMAGE_PRIOR``): its
    thresholded output and the graph cut it seeds (``otsu_`` prefixed for the image prior)."""
    prefix = "otsu_" if teacher == IMAGE_PRIOR else ""
    return [f"{prefix}student", f"{prefix}student_graphcut"]


AUTO_EXPORT = "auto"
"""``export.stage`` value decided at export time (``xaicut.export.auto_export_stage``) among
``AUTO_EXPORT_STAGES``: the student's graph cut when the student learned, else the graph cut."""
AUTO_EXPORT_STAGES = ("student_graphcut", "graphcut")
