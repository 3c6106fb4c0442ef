"""Stage ``ingest``: validate a dataset folder and write the split manifest.

Input: the HAM10000 release layout or the plain layout (``docs/data-contracts.md`` §0; the
layout is recognised by its metadata file). Outputs: ``manifest.csv`` (§1) with a
lesion-grouped, class-stratified train/val/test split, and ``rejected.csv`` (§1b) listing every
input left out and why. Every problem is found here, with the file it concerns, before any
expensive stage runs; ``docs/bad-inputs.md`` lists the cases.

Ground-truth masks are optional (``masks: auto``): an image without one is segmented like any
other and has ``has_mask`` False; a mask that is present but broken is a problem of its image.
``masks: required`` makes a missing mask a problem too (benchmark runs that must be complete).
Class names come from the data: the HAM10000 layout knows its seven ``dx`` codes, the plain
layout takes every label its metadata holds; class indices follow the sorted names.

An external dataset (scored with models trained on the main one, ``ingest_external``) needs
only ``image_id``: a missing or empty ``dx`` means unlabelled (label -1), a missing or empty
``lesion_id`` is the image id, and every image is in the ``test`` split.

Problems of the whole metadata file (missing, empty, not UTF-8, a required column missing) always
raise ``DatasetError``. Problems of one image (its metadata row, image file or mask, or an image
over ``max_image_pixels``) raise under the policy ``on_bad_input: error`` and exclude the image
under ``skip``. Image and mask files with no metadata row are never used; they are listed in
``rejected.csv`` under either policy.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from xaicut import CLASSES
from xaicut.classes import class_names

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Layout:
    """Where a dataset folder keeps its metadata, images and (optional) masks."""

    name: str
    metadata: str
    image_globs: tuple[str, ...]
    mask_dir: str
    known_classes: tuple[str, ...] | None  # None: class names come from the metadata


HAM10000_LAYOUT = Layout("HAM10000 release", "HAM10000_metadata.csv",
                         ("HAM10000_images_part_*/*.jpg",),
                         "HAM10000_segmentations_lesion_tschandl", CLASSES)
PLAIN_LAYOUT = Layout("plain", "metadata.csv",
                      ("images/*.jpg", "images/*.jpeg", "images/*.png"), "masks", None)
LAYOUTS = (HAM10000_LAYOUT, PLAIN_LAYOUT)
METADATA_FILE = HAM10000_LAYOUT.metadata
MASK_DIR = HAM10000_LAYOUT.mask_dir
MASK_SUFFIX = "_segmentation"
MASK_POLICIES = ("auto", "required")
METADATA_COLUMNS = ("lesion_id", "image_id", "dx")
EXTERNAL_COLUMNS = ("image_id",)
UNLABELLED = -1
"""Label of an external image without ``dx``."""
MANIFEST_COLUMNS = (
    "image_id", "lesion_id", "dx", "label", "split", "image_path", "mask_path", "has_mask",
    "width", "height"
)
REJECTED_COLUMNS = ("image_id", "file", "problem")
POLICIES = ("error", "skip")
NOT_IN_METADATA = "not listed in the metadata: never used"
SAFE_IMAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MAX_LISTED = 50  # problems quoted in an error message; the log has all of them
MAX_IMAGE_PIXELS = 178_956_970
"""Default of config ``max_image_pixels`` (width x height): Pillow's own refusal size, twice its
``Image.MAX_IMAGE_PIXELS``."""

PIXEL_FORMATS = {
    "L": "grayscale", "LA": "grayscale with alpha", "RGBA": "RGB with an alpha channel",
    "P": "palette colour", "PA": "palette with alpha", "CMYK": "CMYK colour", "1": "1-bit",
    "I;16": "16-bit grayscale", "I;16B": "16-bit grayscale", "I": "32-bit integer",
    "F": "32-bit float",
}


class DatasetError(ValueError):
    """The input dataset is unusable; the message lists each file and its problem."""


@dataclass(frozen=True)
class Rejection:
    """One input left out: its image id ('' if unknown), the file concerned, the problem."""

    image_id: str
    file: str
    problem: str


@dataclass(frozen=True)
class Ingested:
    """The result of ingest: the manifest (contracts §1) and the rejected inputs (§1b)."""

    manifest: pd.DataFrame
    rejected: pd.DataFrame


def detect_layout(data_dir: Path) -> Layout:
    """The layout of ``data_dir``, recognised by its metadata file; raise ``DatasetError``
    naming the files looked for when there is none."""
    for layout in LAYOUTS:
        if (data_dir / layout.metadata).is_file():
            return layout
    others = ", ".join(f"{data_dir / layout.metadata} of the {layout.name} layout"
                       for layout in LAYOUTS[1:])
    raise DatasetError(f"{data_dir / LAYOUTS[0].metadata}: metadata file not found "
                       f"(nor {others})")


def mask_path_for(data_dir: Path, image_id: str, layout: Layout = HAM10000_LAYOUT) -> Path:
    """Return the lesion-mask path of ``image_id`` (``{mask_dir}/{image_id}_segmentation.png``)."""
    return data_dir / layout.mask_dir / f"{image_id}{MASK_SUFFIX}.png"


def read_metadata_table(path: Path, required: tuple[str, ...] = METADATA_COLUMNS) -> pd.DataFrame:
    """Read the metadata CSV as strings; raise ``DatasetError`` naming ``path`` if unusable.

    A UTF-8 byte-order mark is accepted. Raises for a missing, empty, non-UTF-8 or malformed
    file, a missing ``required`` column, or a table without rows.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: metadata file not found")
    try:
        meta = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    except pd.errors.EmptyDataError as err:
        raise DatasetError(f"{path}: metadata file is empty") from err
    except UnicodeDecodeError as err:
        raise DatasetError(f"{path}: not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset "
                           f"{err.start}); save the file as UTF-8") from err
    except pd.errors.ParserError as err:
        raise DatasetError(f"{path}: not a readable CSV table ({err})") from err
    missing = [c for c in required if c not in meta.columns]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {missing}; found {list(meta.columns)}")
    if meta.empty:
        raise DatasetError(f"{path}: metadata file has a header but no rows")
    return meta


def metadata_row_problem(row: pd.Series, duplicated: bool, external: bool,
                         known: tuple[str, ...] | None) -> str | None:
    """Return what is wrong with one metadata row (id, lesion, dx), or None; an ``external``
    row may leave lesion_id and dx empty, and so may the plain layout's lesion_id (``known``
    None). ``known``: the class names ``dx`` must be one of (None: any non-empty name)."""
    image_id = row["image_id"]
    if not SAFE_IMAGE_ID.fullmatch(image_id) or ".." in image_id:
        return (f"image_id {image_id!r} is not a safe file name (letters, digits, '_', '-', '.';"
                " no path separator, no '..')")
    if duplicated:
        return f"duplicate image_id {image_id}"
    if not row["lesion_id"] and not external and known is not None:
        return f"empty lesion_id for {image_id}"
    if external and row["dx"] == "":
        return None
    if not row["dx"]:
        return f"empty label (dx) for {image_id}"
    if known is not None and row["dx"] not in known:
        return f"unknown dx {row['dx']!r} for {image_id} (known: {', '.join(known)})"
    return None


def check_metadata(path: Path, meta: pd.DataFrame, external: bool = False,
                   known: tuple[str, ...] | None = CLASSES) -> tuple[pd.DataFrame, list[Rejection]]:
    """Split the metadata rows into usable rows and rejections (one per bad row); ``known`` as
    in :func:`metadata_row_problem`."""
    duplicated = meta.image_id.duplicated(keep=False)
    rejected, keep = [], []
    for (i, row), dup in zip(meta.iterrows(), duplicated):
        problem = metadata_row_problem(row, bool(dup), external, known)
        keep.append(problem is None)
        if problem is not None:
            rejected.append(Rejection(row["image_id"], f"{path} line {i + 2}", problem))
    return meta[keep], rejected


@contextmanager
def open_image(path: Path) -> Iterator[Image.Image]:
    """Open ``path`` with Pillow, reading its header only (``load`` decodes the pixels), without
    Pillow's decompression-bomb check: ingest compares the size with ``max_image_pixels`` itself,
    so that an oversized file is a problem of that file, not a crash."""
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        image = Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    with image:
        yield image


def image_problem(path: Path,
                  max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[str | None, tuple[int, int]]:
    """Decode an image fully; return (problem or None, (width, height)).

    Accepted: 8-bit RGB (any format OpenCV and Pillow both read) of at most ``max_pixels``
    pixels (width x height). Rejected: empty, truncated or corrupt files, grayscale, alpha,
    palette, CMYK and 16-bit images, and larger images, found from the header before any pixel
    is decoded.
    """
    if path.stat().st_size == 0:
        return "image file is empty (0 bytes)", (0, 0)
    try:
        with open_image(path) as image:
            size = width, height = image.size
            if width * height > max_pixels:
                return (f"image is {width}x{height} ({width * height:,} pixels), over "
                        f"max_image_pixels {max_pixels:,} (a guard against decompression bombs; "
                        "raise it for very large scans)"), size
            image.load()  # decodes every byte: truncated or corrupt data raise here
            mode, fmt = image.mode, image.format
    except (OSError, SyntaxError, ValueError) as err:
        return f"image not decodable ({err})", (0, 0)
    if mode != "RGB":
        return f"image is {PIXEL_FORMATS.get(mode, mode)} (mode {mode}); expected 8-bit RGB", size
    if fmt != "JPEG" and cv2.imread(str(path), cv2.IMREAD_UNCHANGED).dtype != np.uint8:
        return "image has 16-bit samples; expected 8-bit RGB", size
    return None, size


def mask_problem(path: Path, image_size: tuple[int, int]) -> str | None:
    """Return what is wrong with a ground-truth mask of an image of ``image_size`` (w, h), or None.

    A mask must be a single-channel image of the image's size with values 0 and 255 only and at
    least one lesion pixel (1-bit images count as 0/255). Mode and size are read from the header
    before any pixel is decoded, so a mask is never larger than its (checked) image.
    """
    if not path.is_file():
        return "mask missing"
    try:
        with open_image(path) as image:
            mode, size = image.mode, image.size
            if mode not in ("L", "1"):
                return (f"mask is {PIXEL_FORMATS.get(mode, mode)} (mode {mode}); expected "
                        "single-channel 0/255")
            if size != image_size:
                return (f"mask size {size[0]}x{size[1]} differs from image "
                        f"{image_size[0]}x{image_size[1]}")
            values = np.asarray(image.convert("L") if mode == "1" else image)
    except (OSError, SyntaxError, ValueError) as err:
        return f"mask not decodable ({err})"
    levels = np.unique(values)
    if set(levels) <= {0, 1} and 1 in levels:
        return "mask values are 0/1; expected 0/255 (a 0/1 mask would read as empty)"
    grey = int(np.count_nonzero((values > 0) & (values < 255)))
    if grey:
        return f"mask has {grey} grey pixels (levels 1-254, anti-aliased?); expected binary 0/255"
    if not levels.any():
        return "mask is empty: no lesion pixel"
    return None


def find_images(data_dir: Path,
                layout: Layout = HAM10000_LAYOUT) -> tuple[dict[str, Path], list[Rejection]]:
    """Map image id → image path over the layout's image folders; an id found twice is a
    rejection."""
    found: dict[str, list[Path]] = {}
    for path in sorted(p for glob in layout.image_globs for p in data_dir.glob(glob)):
        found.setdefault(path.stem, []).append(path)
    rejected = [Rejection(i, str(paths[1]),
                          f"image found {len(paths)} times: {', '.join(map(str, paths))}")
                for i, paths in found.items() if len(paths) > 1]
    return {i: paths[0] for i, paths in found.items() if len(paths) == 1}, rejected


def unlisted_files(data_dir: Path, images: dict[str, Path], listed: set[str],
                   layout: Layout = HAM10000_LAYOUT) -> list[Rejection]:
    """Image and mask files whose image id has no metadata row."""
    masks = {p.name.removesuffix(f"{MASK_SUFFIX}.png"): p
             for p in sorted((data_dir / layout.mask_dir).glob(f"*{MASK_SUFFIX}.png"))}
    files = [(i, p) for i, p in images.items() if i not in listed]
    files += [(i, p) for i, p in masks.items() if i not in listed]
    return [Rejection(i, str(p), NOT_IN_METADATA) for i, p in sorted(files)]


def collect_images(data_dir: Path, meta: pd.DataFrame, images: dict[str, Path],
                   layout: Layout = HAM10000_LAYOUT, masks: str = "auto",
                   max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[pd.DataFrame, list[Rejection]]:
    """Decode every listed image and its mask, if any; return (manifest rows without split and
    label, rejections). ``masks: required`` makes a missing mask a rejection; an image over
    ``max_pixels`` pixels is one too (``image_problem``)."""
    rows, rejected = [], []
    for rec in tqdm(meta.itertuples(index=False), total=len(meta), desc="ingest", unit="img"):
        mask_path = mask_path_for(data_dir, rec.image_id, layout)
        if rec.image_id not in images:
            expected = data_dir / layout.image_globs[0].replace("*.", f"{rec.image_id}.")
            problem = f"no image file for metadata image_id {rec.image_id} (expected {expected})"
            if mask_path.is_file():
                rejected.append(Rejection(rec.image_id, str(mask_path),
                                          f"mask without image: {problem}"))
            else:
                rejected.append(Rejection(rec.image_id, str(expected), problem))
            continue
        image_path = images[rec.image_id]
        problem, (width, height) = image_problem(image_path, max_pixels)
        if problem is not None:
            rejected.append(Rejection(rec.image_id, str(image_path), problem))
            continue
        has_mask = mask_path.is_file()
        problem = (mask_problem(mask_path, (width, height))
                   if has_mask or masks == "required" else None)
        if problem is not None:
            rejected.append(Rejection(rec.image_id, str(mask_path),
                                      problem + (" (masks: required)" if not has_mask else "")))
            continue
        rows.append((rec.image_id, rec.lesion_id or rec.image_id, rec.dx, UNLABELLED, "",
                     str(image_path.resolve()), str(mask_path.resolve()) if has_mask else "",
                     has_mask, width, height))
    return pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)), rejected


def check_mask_folder(data_dir: Path, layout: Layout, masks: str) -> None:
    """Under ``masks: required``, raise ``DatasetError`` at once when the masks folder is absent."""
    if masks not in MASK_POLICIES:
        raise ValueError(f"masks must be one of {MASK_POLICIES}, not {masks!r}")
    folder = data_dir / layout.mask_dir
    if masks == "required" and not folder.is_dir():
        raise DatasetError(f"{folder}: masks folder not found, and the setting masks: required "
                           "asks for a ground-truth mask of every image; set masks: auto to "
                           "segment a collection without (or with some) masks")


def raise_for(problems: list[Rejection], data_dir: Path) -> None:
    """Log every problem and raise ``DatasetError`` quoting the first ``MAX_LISTED``."""
    lines = [f"{r.file}: {r.problem}" for r in problems]
    for line in lines:
        log.error(line)
    more = (f"\n... and {len(lines) - MAX_LISTED} more (all in the log)"
            if len(lines) > MAX_LISTED else "")
    raise DatasetError(f"{len(lines)} problem(s) in {data_dir}:\n" + "\n".join(lines[:MAX_LISTED])
                       + more + "\nFix the files, or set on_bad_input: skip to leave these images "
                       "out (listed in rejected.csv).")


def assign_splits(frame: pd.DataFrame, val: float, test: float, seed: int) -> pd.Series:
    """Assign each lesion (all its images) to train/val/test, stratified by class.

    Within each class (sorted names), lesions are shuffled with ``seed`` and taken into test
    until the class's test image share reaches ``test``, then into val likewise; the rest is
    train. A class with at least three lesions gets at least one in each split. Returns the
    split per row of ``frame``.
    """
    rng = np.random.default_rng(seed)
    lesion_split: dict[str, str] = {}
    lesion_size = frame.groupby("lesion_id").size()
    lesion_dx = frame.groupby("lesion_id")["dx"].first()
    for dx in sorted(set(lesion_dx)):
        lesions = np.array(sorted(lesion_dx.index[lesion_dx == dx]))
        rng.shuffle(lesions)
        total = lesion_size[lesions].sum()
        quota = {"test": test * total, "val": val * total}
        taken = {"test": 0, "val": 0}
        for i, lesion in enumerate(lesions):
            if len(lesions) >= 3 and i < 2:
                split = ("test", "val")[i]
            else:
                split = next((n for n in ("test", "val") if taken[n] < quota[n]), "train")
            if split != "train":
                taken[split] += lesion_size[lesion]
            lesion_split[lesion] = split
    return frame["lesion_id"].map(lesion_split)


def read_metadata(data_dir: Path, layout: Layout, external: bool,
                  label_column: str) -> tuple[Path, pd.DataFrame]:
    """The layout's metadata table with ``label_column`` renamed ``dx`` and absent optional
    columns (lesion_id; dx of an external set) added empty; returns (its path, the table)."""
    path = data_dir / layout.metadata
    if layout.known_classes is None and not external:
        required: tuple[str, ...] = ("image_id", label_column)
    else:
        required = EXTERNAL_COLUMNS if external else METADATA_COLUMNS
    table = read_metadata_table(path, required)
    if label_column != "dx" and label_column in table.columns:
        table = table.drop(columns="dx", errors="ignore").rename(columns={label_column: "dx"})
    return path, table.assign(**{c: "" for c in METADATA_COLUMNS if c not in table.columns})


def ingest_release(data_dir: str | os.PathLike, val: float, test: float, seed: int,
                   on_bad_input: str = "error", external: bool = False, masks: str = "auto",
                   label_column: str = "dx", classes: list[str] | None = None,
                   max_image_pixels: int = MAX_IMAGE_PIXELS) -> Ingested:
    """Validate the dataset folder; return the split manifest and the rejected inputs.

    ``on_bad_input`` is ``error`` (raise ``DatasetError`` listing every bad image) or ``skip``
    (leave bad images out). Raises ``DatasetError`` in either case when the metadata file is
    unusable or no image is left. ``masks``: ``auto`` (a missing mask is fine) or ``required``.
    ``label_column``: the metadata column holding each image's class (plain layout; the
    manifest calls it ``dx``). ``external``: a dataset only scored (labels optional, every image
    in the test split; ``val``, ``test`` and ``seed`` unused) with the main dataset's
    ``classes`` (its labels must be one of them). ``max_image_pixels``: the largest image
    accepted (width x height); a larger one is a problem of its file.
    """
    if on_bad_input not in POLICIES:
        raise ValueError(f"on_bad_input must be one of {POLICIES}, not {on_bad_input!r}")
    data_dir = Path(data_dir)
    layout = detect_layout(data_dir)
    check_mask_folder(data_dir, layout, masks)
    meta_path, table = read_metadata(data_dir, layout, external, label_column)
    known = tuple(classes) if external and classes is not None else layout.known_classes
    meta, bad_rows = check_metadata(meta_path, table, external, known)
    images, duplicates = find_images(data_dir, layout)
    meta = meta[~meta.image_id.isin({r.image_id for r in duplicates})]
    frame, bad_files = collect_images(data_dir, meta, images, layout, masks, max_image_pixels)
    problems = bad_rows + duplicates + bad_files
    if problems and on_bad_input == "error":
        raise_for(problems, data_dir)
    for r in problems:
        log.warning("skipped %s: %s (%s)", r.image_id, r.problem, r.file)
    listed = set(meta.image_id) | {r.image_id for r in bad_rows + duplicates}
    unlisted = unlisted_files(data_dir, images, listed, layout)
    if unlisted:
        log.warning("%d file(s) not listed in %s are ignored (rejected.csv)", len(unlisted),
                    meta_path)
    if frame.empty:
        raise DatasetError(f"{data_dir}: no usable image ({len(problems)} rejected)")
    names = list(classes) if external and classes is not None else class_names(frame.dx)
    frame["label"] = [names.index(dx) if dx in names else UNLABELLED for dx in frame.dx]
    frame["split"] = "test" if external else assign_splits(frame, val, test, seed)
    log.info("%s layout, %d classes; split sizes (images per class):\n%s", layout.name,
             len(names), frame.groupby(["split", "dx"]).size().unstack(fill_value=0).to_string())
    log.info("%d of %d images have a ground-truth mask; scores use those only",
             int(frame.has_mask.sum()), len(frame))
    rejected = pd.DataFrame([vars(r) for r in problems + unlisted], columns=list(REJECTED_COLUMNS))
    return Ingested(frame.sort_values("image_id").reset_index(drop=True),
                    rejected.sort_values(["image_id", "file"]).reset_index(drop=True))


def build_manifest(data_dir: str | os.PathLike, val: float, test: float, seed: int,
                   on_bad_input: str = "error") -> pd.DataFrame:
    """Validate the release folder and return the manifest only (``ingest_release``)."""
    return ingest_release(data_dir, val, test, seed, on_bad_input).manifest
