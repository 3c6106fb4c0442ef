"""Atomic writes: readable permissions, no temporary files left, nothing written on failure."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from xaicut.io import atomic_directories, atomic_path, read_mask, write_mask


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_outputs_have_normal_permissions_and_no_leftovers(tmp_path):
    write_mask(np.eye(3, dtype=bool), tmp_path / "m.png")
    mode = stat.S_IMODE(os.stat(tmp_path / "m.png").st_mode)
    assert mode == 0o666 & ~current_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["m.png"]
    assert np.array_equal(read_mask(tmp_path / "m.png"), np.eye(3, dtype=bool))


def test_failed_write_leaves_nothing_and_keeps_old_file(tmp_path):
    (tmp_path / "out.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "out.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert (tmp_path / "out.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_output_folders_appear_only_when_complete(tmp_path):
    """A folder output is invisible while it is being filled, replaces a killed job's partial
    folder when done, and is never created when the job fails."""
    partial = tmp_path / "fused" / "test000"
    partial.mkdir(parents=True)
    (partial / "stale.png").write_text("from a killed job")
    targets = [partial, tmp_path / "gradcam" / "test000"]
    with atomic_directories(targets) as tmps:
        for tmp in tmps:
            write_mask(np.eye(3, dtype=bool), tmp / "ISIC_1.png")
        assert not targets[1].exists() and (partial / "stale.png").exists()
    for target in targets:
        assert [p.name for p in target.iterdir()] == ["ISIC_1.png"]
        assert stat.S_IMODE(os.stat(target).st_mode) == 0o777 & ~current_umask()
    failed = tmp_path / "shap" / "test000"
    with pytest.raises(RuntimeError), atomic_directories([failed]) as (tmp,):
        write_mask(np.eye(3, dtype=bool), tmp / "ISIC_1.png")
        raise RuntimeError("killed")
    assert list(failed.parent.iterdir()) == []
