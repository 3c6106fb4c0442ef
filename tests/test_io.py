"""Atomic writes: readable permissions, no temporary files left, nothing written on failure."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from xaicut.io import atomic_path, read_mask, write_mask


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
