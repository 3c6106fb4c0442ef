"""Workflow conventions: `snakemake --lint` has nothing to report, `snakefmt --check` and
`ruff check` (lint and import order, configured in pyproject.toml) are clean, outputs are written
atomically, and nothing evaluates text as code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

BIN = Path(sys.executable).parent


def test_snakemake_lint_reports_nothing():
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--cores", "1"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Lints for" not in output, output[-3000:]


def test_snakefmt_check_is_clean():
    files = ["Snakefile", *sorted(str(p.relative_to(REPO)) for p in (REPO / "rules").glob("*.smk"))]
    proc = subprocess.run([str(BIN / "snakefmt"), "--check", *files], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_check_is_clean():
    proc = subprocess.run([str(BIN / "ruff"), "check", "--no-cache", "."], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


SOURCES = sorted([*(REPO / "xaicut").rglob("*.py"), *(REPO / "workflow_scripts").glob("*.py")])
WRITE_CALL = re.compile(r"\.to_csv\(|imwrite\(|torch\.save\(|\.savefig\(|write_text\(|"
                        r"write_bytes\(|h5py\.File\([^)]*[\"']w|open\([^)]*[\"'][wa]")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_files_are_written_through_a_temporary_path(path):
    """Outside xaicut/io.py every write goes to ``tmp`` (``atomic_path``) or an in-memory buffer,
    so a killed job never leaves a truncated output (docs/bad-inputs.md)."""
    if path.name == "io.py":
        return
    direct = [f"{path.name}:{n}: {line.strip()}"
              for n, line in enumerate(path.read_text().splitlines(), 1)
              if WRITE_CALL.search(line) and not re.search(r"\btmp\b|buffer", line)]
    assert direct == []


@pytest.mark.parametrize("path", [*SOURCES, REPO / "Snakefile", *(REPO / "rules").glob("*.smk")],
                         ids=lambda p: p.name)
def test_no_eval_or_exec(path):
    assert not re.search(r"(?<![\w.])(eval|exec)\(", path.read_text()), path
