"""The bad-input catalogue (docs/bad-inputs.md): every case ends in a clear error naming the file,
or, under ``on_bad_input: skip``, in the image being left out and listed in rejected.csv."""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from conftest import REPO, SNAKEMAKE, write_tiny_release
from xaicut.config import ConfigError, validate_config
from xaicut.ingest import (
    MAX_IMAGE_PIXELS,
    NOT_IN_METADATA,
    REJECTED_COLUMNS,
    DatasetError,
    ingest_release,
)
from xaicut.io import write_mask
from xaicut.model import build_classifier, check_pretrained_weights, load_checkpoint

MASKS = "HAM10000_segmentations_lesion_tschandl"
PART = "HAM10000_images_part_1"
VICTIM = "ISIC_0000005"
H, W = 36, 48  # write_tiny_release's image size


def image(root: Path, image_id: str = VICTIM) -> Path:
    return root / PART / f"{image_id}.jpg"


def mask(root: Path, image_id: str = VICTIM) -> Path:
    return root / MASKS / f"{image_id}_segmentation.png"


def metadata(root: Path) -> Path:
    return root / "HAM10000_metadata.csv"


def edit_metadata(root: Path, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    meta = pd.read_csv(metadata(root), dtype=str)
    edit(meta).to_csv(metadata(root), index=False)


def set_cell(column: str, value: str) -> Callable[[Path], None]:
    def corrupt(root: Path) -> None:
        def edit(meta: pd.DataFrame) -> pd.DataFrame:
            meta.loc[meta.image_id == VICTIM, column] = value
            return meta
        edit_metadata(root, edit)
    return corrupt


def truncate(root: Path) -> None:
    data = image(root).read_bytes()
    image(root).write_bytes(data[: len(data) // 2])


def disguise(array: np.ndarray) -> Callable[[Path], None]:
    """Write ``array`` as a PNG under the victim's .jpg name (a hand-renamed file)."""
    def corrupt(root: Path) -> None:
        png = image(root).with_suffix(".png")
        cv2.imwrite(str(png), array)
        png.replace(image(root))
    return corrupt


def grayscale_jpeg(root: Path) -> None:
    grey = cv2.imread(str(image(root)), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(image(root)), grey)


def mask_values(values: np.ndarray) -> Callable[[Path], None]:
    def corrupt(root: Path) -> None:
        cv2.imwrite(str(mask(root)), values.astype(np.uint8))
    return corrupt


def anti_aliased(root: Path) -> None:
    truth = cv2.imread(str(mask(root)), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(mask(root)), cv2.GaussianBlur(truth, (5, 5), 1.5))


def duplicate_row(root: Path) -> None:
    edit_metadata(root, lambda m: pd.concat([m, m[m.image_id == VICTIM]]))


def unsafe_id(image_id: str) -> Callable[[Path], None]:
    def corrupt(root: Path) -> None:
        set_cell("image_id", image_id)(root)
        (root / MASKS / f"{VICTIM}_segmentation.png").unlink()
        image(root).unlink()
    return corrupt


def second_copy(root: Path) -> None:
    other = root / "HAM10000_images_part_2" / f"{VICTIM}.jpg"
    other.parent.mkdir()
    other.write_bytes(image(root).read_bytes())


def claim_size(file: Callable[[Path], Path], width: int, height: int) -> Callable[[Path], None]:
    """Rewrite the size the JPEG (SOF0) or PNG (IHDR) header of ``file`` declares, its pixel
    data unchanged: a decompression bomb in a few hundred bytes, which only a check of the
    header before decoding turns into a per-file problem."""
    def corrupt(root: Path) -> None:
        data = bytearray(file(root).read_bytes())
        if data.startswith(b"\x89PNG"):
            data[16:24] = struct.pack(">II", width, height)
            data[29:33] = struct.pack(">I", zlib.crc32(data[12:29]))
        else:
            at = data.index(b"\xff\xc0") + 5
            data[at:at + 4] = struct.pack(">HH", height, width)
        file(root).write_bytes(bytes(data))
    return corrupt


BLOCK = np.zeros((H, W), np.uint8)
BLOCK[10:25, 15:35] = 1
RGB_16BIT = np.random.default_rng(0).integers(0, 65535, (H, W, 3)).astype(np.uint16)
RGBA = np.dstack([np.full((H, W, 3), 120, np.uint8), np.full((H, W), 200, np.uint8)])

# case id (as in docs/bad-inputs.md) -> (corruption, file named in the message, problem text)
IMAGE_CASES: dict[str, tuple[Callable[[Path], None], Callable[[Path], Path], str]] = {
    "truncated-jpeg": (truncate, image, "image file is truncated"),
    "zero-byte-image": (lambda r: image(r).write_bytes(b""), image, "empty (0 bytes)"),
    "not-an-image": (lambda r: image(r).write_text("<html>404</html>"), image, "not decodable"),
    "grayscale-image": (grayscale_jpeg, image, "grayscale (mode L)"),
    "rgba-image": (disguise(RGBA), image, "alpha channel"),
    "16-bit-image": (disguise(RGB_16BIT), image, "16-bit samples"),
    "16-bit-grayscale-image": (disguise(RGB_16BIT[..., 0]), image, "16-bit grayscale"),
    "image-over-pixel-limit": (claim_size(image, 20_000, 12_000), image,
                               "image is 20000x12000 (240,000,000 pixels), over max_image_pixels"),
    "mask-other-size": (lambda r: write_mask(np.ones((10, 10), bool), mask(r)), mask,
                        "mask size 10x10 differs from image 48x36"),
    "mask-0-1": (mask_values(BLOCK), mask, "mask values are 0/1"),
    "mask-anti-aliased": (anti_aliased, mask, "grey pixels"),
    "mask-colour": (lambda r: cv2.imwrite(str(mask(r)), np.dstack([BLOCK * 255] * 3)), mask,
                    "expected single-channel"),
    "mask-empty": (mask_values(BLOCK * 0), mask, "no lesion pixel"),
    "mask-over-pixel-limit": (claim_size(mask, 20_000, 12_000), mask,
                              "mask size 20000x12000 differs from image 48x36"),
    "zero-byte-mask": (lambda r: mask(r).write_bytes(b""), mask, "mask not decodable"),
    "mask-without-image": (lambda r: image(r).unlink(), mask,
                           f"mask without image: no image file for metadata image_id {VICTIM}"),
    "image-in-two-parts": (second_copy, lambda r: r / "HAM10000_images_part_2", "found 2 times"),
    "unknown-dx": (set_cell("dx", "melanoma"), metadata, "unknown dx 'melanoma'"),
    "empty-lesion-id": (set_cell("lesion_id", ""), metadata, "empty lesion_id"),
    "duplicate-image-id": (duplicate_row, metadata, f"duplicate image_id {VICTIM}"),
    "image-id-with-separator": (unsafe_id("sub/ISIC_0000005"), metadata, "not a safe file name"),
    "image-id-with-dotdot": (unsafe_id("../ISIC_0000005"), metadata, "not a safe file name"),
}


@pytest.fixture
def release(tmp_path: Path) -> Path:
    write_tiny_release(tmp_path / "ham")
    return tmp_path / "ham"


@pytest.mark.parametrize("case", IMAGE_CASES)
def test_bad_image_input_is_named_or_skipped(case, release):
    corrupt, named_file, problem = IMAGE_CASES[case]
    corrupt(release)
    with pytest.raises(DatasetError) as err:
        ingest_release(release, val=0.2, test=0.2, seed=1)
    lines = [line for line in str(err.value).splitlines() if problem in line]
    assert lines and all(line.startswith(str(named_file(release)))
                         for line in lines), str(err.value)
    assert "on_bad_input: skip" in str(err.value)

    skipped = ingest_release(release, val=0.2, test=0.2, seed=1, on_bad_input="skip")
    assert VICTIM not in set(skipped.manifest.image_id)
    assert len(skipped.manifest) == 7 * 4 * 2 - 1
    assert list(skipped.rejected.columns) == list(REJECTED_COLUMNS)
    row = skipped.rejected[skipped.rejected.problem.str.contains(problem, regex=False)]
    assert len(row) == len(lines) and row.file.str.startswith(str(named_file(release))).all()


def test_max_image_pixels_is_the_largest_image_accepted(release):
    """A 100x100 image over a limit of 5,000 pixels is a problem of its file under either
    policy; at a limit of its own size it is accepted like the 48x36 images."""
    cv2.imwrite(str(image(release)), np.full((100, 100, 3), 90, np.uint8))
    mask(release).unlink()
    problem = "image is 100x100 (10,000 pixels), over max_image_pixels 5,000"
    with pytest.raises(DatasetError, match=re.escape(f"{image(release)}: {problem}")):
        ingest_release(release, val=0.2, test=0.2, seed=1, max_image_pixels=5_000)
    skipped = ingest_release(release, val=0.2, test=0.2, seed=1, on_bad_input="skip",
                             max_image_pixels=5_000)
    assert skipped.rejected.problem.str.startswith(problem).tolist() == [True]
    assert VICTIM not in set(skipped.manifest.image_id) and len(skipped.manifest) == 55
    accepted = ingest_release(release, val=0.2, test=0.2, seed=1,
                              max_image_pixels=100 * 100).manifest.set_index("image_id")
    assert (accepted.loc[VICTIM, "width"], accepted.loc[VICTIM, "height"]) == (100, 100)


def test_max_image_pixels_default_is_the_schema_default():
    assert validate_config({"data_dir": "demo"})["max_image_pixels"] == MAX_IMAGE_PIXELS


def not_utf8(root: Path) -> None:
    text = metadata(root).read_text().replace("back", "Rücken")
    metadata(root).write_bytes(text.encode("latin-1"))


FILE_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "metadata-missing": (lambda r: metadata(r).unlink(), "metadata file not found"),
    "metadata-empty": (lambda r: metadata(r).write_bytes(b""), "metadata file is empty"),
    "metadata-header-only": (lambda r: edit_metadata(r, lambda m: m.iloc[:0]),
                             "metadata file has a header but no rows"),
    "metadata-missing-column": (lambda r: edit_metadata(r, lambda m: m.drop(columns="dx")),
                                "missing column(s) ['dx']"),
    "metadata-not-utf8": (not_utf8, "not UTF-8 text (byte 0xfc"),
}


@pytest.mark.parametrize("policy", ["error", "skip"])
@pytest.mark.parametrize("case", FILE_CASES)
def test_unusable_metadata_file_stops_under_either_policy(case, policy, release):
    corrupt, problem = FILE_CASES[case]
    corrupt(release)
    with pytest.raises(DatasetError, match=re.escape(f"{metadata(release)}: {problem}")):
        ingest_release(release, val=0.2, test=0.2, seed=1, on_bad_input=policy)


def test_metadata_with_a_byte_order_mark_is_read(release):
    metadata(release).write_bytes(b"\xef\xbb\xbf" + metadata(release).read_bytes())
    assert len(ingest_release(release, val=0.2, test=0.2, seed=1).manifest) == 56


@pytest.mark.parametrize("policy", ["error", "skip"])
def test_files_not_in_metadata_are_listed_never_used(policy, release):
    """Case ``file-not-in-metadata``: an image or mask with no metadata row."""
    cv2.imwrite(str(image(release, "ISIC_9999999")), np.full((H, W, 3), 90, np.uint8))
    write_mask(BLOCK > 0, mask(release, "ISIC_9999998"))
    ingested = ingest_release(release, val=0.2, test=0.2, seed=1, on_bad_input=policy)
    assert len(ingested.manifest) == 56
    listed = ingested.rejected.set_index("image_id")
    assert set(listed.index) == {"ISIC_9999999", "ISIC_9999998"}
    assert (listed.problem == NOT_IN_METADATA).all()


def test_every_image_rejected_is_an_error(release):
    for path in (release / PART).glob("*.jpg"):
        path.write_bytes(b"")
    with pytest.raises(DatasetError, match="no usable image"):
        ingest_release(release, val=0.2, test=0.2, seed=1, on_bad_input="skip")


def test_a_long_problem_list_is_cut_in_the_message(release):
    for path in (release / MASKS).glob("*.png"):
        path.unlink()
    with pytest.raises(DatasetError) as err:
        ingest_release(release, val=0.2, test=0.2, seed=1, masks="required")
    assert str(err.value).startswith(f"56 problem(s) in {release}")
    assert "... and 6 more (all in the log)" in str(err.value)


CONFIG_CASES = {
    "config-unknown-key": ({"segment": {"pairwise_wieght": 3}}, "pairwise_wieght"),
    "config-wrong-type": ({"train": {"epochs": "ten"}}, "'ten' is not of type 'integer'"),
    "config-bad-policy": ({"on_bad_input": "ignore"}, "'ignore' is not one of"),
    "config-run-outside-results": ({"run": "../elsewhere"}, "does not match"),
}


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_bad_config_is_named(case):
    section, named = CONFIG_CASES[case]
    with pytest.raises(ConfigError, match=re.escape(named)):
        validate_config({"data_dir": "demo", **section})


def test_checkpoint_that_is_not_a_checkpoint_is_named(tmp_path):
    """Cases ``checkpoint-not-a-checkpoint`` and ``pretrained-*``."""
    junk = tmp_path / "model.pt"
    junk.write_bytes(b"PK\x03\x04 half a zip")
    with pytest.raises(ValueError, match=re.escape(f"{junk}: not a loadable checkpoint")):
        load_checkpoint(junk)
    with pytest.raises(ValueError, match=re.escape(f"{junk}: not a loadable torch weights file")):
        check_pretrained_weights(junk, "resnet18")
    pickled = tmp_path / "pickled.pt"
    torch.save({"state_dict": {"conv1.weight": torch.zeros(1)}, "hook": Path("/")}, pickled)
    with pytest.raises(ValueError, match="not a loadable torch weights file.*[Ww]eights only"):
        check_pretrained_weights(pickled, "resnet18")
    not_tensors = tmp_path / "history.pt"
    torch.save({"epoch": 3, "loss": 0.5}, not_tensors)
    with pytest.raises(ValueError, match=re.escape(f"{not_tensors}: not a state dict")):
        check_pretrained_weights(not_tensors, "resnet18")
    other_arch = tmp_path / "resnet34.pth"
    torch.save(build_classifier("resnet34").state_dict(), other_arch)
    with pytest.raises(ValueError, match=re.escape(f"{other_arch}: weights do not fit resnet18")):
        check_pretrained_weights(other_arch, "resnet18")


def test_snakemake_stops_on_bad_weights_before_any_job(tmp_path):
    junk = tmp_path / "imagenet.pth"
    junk.write_bytes(b"not weights")
    overlay = {"results_dir": str(tmp_path / "results"), "train": {"pretrained_weights": str(junk)}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(overlay))
    proc = subprocess.run([*SNAKEMAKE, "-n", "--cores", "1",
                           "--configfile", str(tmp_path / "config.yaml")],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode != 0
    assert f"{junk}: not a loadable torch weights file" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_workflow_stops_at_ingest_or_skips_and_lists(tmp_path):
    """A bad image stops the workflow in ingest, before any other job, naming the file; with
    ``on_bad_input: skip`` ingest leaves it out and lists it in rejected.csv."""
    write_tiny_release(tmp_path / "ham")
    truncate(tmp_path / "ham")
    config = {"data_dir": str(tmp_path / "ham"), "results_dir": str(tmp_path / "results")}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    command = [*SNAKEMAKE, "--cores", "1", "--configfile",
               str(tmp_path / "config.yaml")]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    log = (tmp_path / "results" / "logs" / "ingest.log").read_text()
    assert f"{image(tmp_path / 'ham')}: image not decodable (image file is truncated" in log
    # nothing but the log and Snakemake's benchmark folder (the failed job's folder, no file)
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["benchmarks", "logs"]
    assert not [p for p in (tmp_path / "results" / "benchmarks").rglob("*") if p.is_file()]

    proc = subprocess.run([*command, "--until", "ingest", "--config", "on_bad_input=skip"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rejected = pd.read_csv(tmp_path / "results" / "data" / "rejected.csv")
    assert rejected.image_id.tolist() == [VICTIM]
    manifest = pd.read_csv(tmp_path / "results" / "data" / "manifest.csv")
    assert VICTIM not in set(manifest.image_id) and len(manifest) == 55


def test_every_case_is_documented():
    doc = (REPO / "docs" / "bad-inputs.md").read_text()
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", doc, re.M))
    cases = {*IMAGE_CASES, *FILE_CASES, *CONFIG_CASES, "file-not-in-metadata",
             "checkpoint-not-a-checkpoint", "pretrained-not-loadable", "pretrained-wrong-arch",
             "pretrained-not-a-state-dict", "no-usable-image"}
    assert cases <= documented, sorted(cases - documented)


def test_pil_and_opencv_agree_on_the_pixels_of_accepted_images(release):
    """Ingest decodes with Pillow, the stages with OpenCV: same size, EXIF orientation ignored."""
    from xaicut.io import read_rgb

    with Image.open(image(release)) as im:
        pixels = im.copy()
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: "rotate 90°"
    pixels.save(image(release), exif=exif)
    ingested = ingest_release(release, val=0.2, test=0.2, seed=1)
    row = ingested.manifest.set_index("image_id").loc[VICTIM]
    assert read_rgb(image(release)).shape == (row.height, row.width, 3)


def test_rejected_columns_are_documented():
    doc = (REPO / "docs" / "data-contracts.md").read_text()
    section = doc.split("## 1b.", 1)[1].split("\n## ", 1)[0]
    assert tuple(re.findall(r"^\| (\w+) \| str \|", section, re.M)) == REJECTED_COLUMNS
