"""xaicut.costs on benchmark TSVs written by hand as Snakemake writes them (header ``s``,
``h:m:s``, ``max_rss``, …, one row per run of the job; ``NA`` when nothing was sampled), in the
folders ``Layout.benchmark`` names."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from xaicut.costs import COSTS_COLUMNS, benchmark_job, cost_table, read_benchmarks, rule_costs
from xaicut.layout import Layout

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def benchmark_tsv(path: Path, *runs: tuple[float, str]) -> None:
    """A Snakemake benchmark file: one row per (wall seconds, max_rss) run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"{s:.4f}\t0:00:{int(s):02d}\t{rss}\t900.10\t{rss}\t{rss}\t0.00\t1.20\t85.50\t{s:.2f}\n"
            for s, rss in runs]
    path.write_text(HEADER + "".join(rows))


def manifest(n_test: int, n_train: int = 0) -> pd.DataFrame:
    ids = [f"ISIC_{k:07d}" for k in range(n_test + n_train)]
    return pd.DataFrame({"image_id": ids, "split": ["test"] * n_test + ["train"] * n_train})


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    """Benchmarks of a run: shared ingest and attribute, the run's segment, export_external,
    report and costs."""
    layout = Layout(tmp_path / "results")
    benchmark_tsv(layout.benchmark("ingest", shared=True), (3.0, "120.50"))
    for shard, seconds in (("test000", 10.0), ("test001", 4.0)):
        benchmark_tsv(layout.benchmark("attribute", True, variant="plain", shard=shard),
                      (seconds, "800.00"))
    benchmark_tsv(layout.benchmark("segment", variant="plain", shard="test000"),
                  (6.0, "300.25"), (8.0, "310.75"))          # repeat: 2 runs
    benchmark_tsv(layout.benchmark("export_external", dataset="ph2"), (0.5, "NA"))
    benchmark_tsv(layout.benchmark("export_external", dataset="gone"), (0.5, "NA"))
    benchmark_tsv(layout.benchmark("report"), (9.0, "500.00"))
    benchmark_tsv(layout.benchmark("costs"), (1.0, "90.00"))
    return layout


def table_of(layout: Layout) -> pd.DataFrame:
    benchmarks = read_benchmarks([layout.benchmarks(shared=True), layout.benchmarks()])
    return cost_table(benchmarks, {"": manifest(5, 3), "ph2": manifest(7)}, shard_size=4)


def test_paths_name_rule_and_wildcards(layout: Layout) -> None:
    path = layout.benchmark("student_round", teacher="plain", round="1", shard="val000")
    assert path == layout.run / "benchmarks/student_round/teacher=plain/round=1/shard=val000.tsv"
    assert layout.benchmark("ingest", shared=True) == layout.results / "benchmarks/ingest.tsv"
    assert benchmark_job(path.relative_to(layout.benchmarks())) == (
        "student_round", {"teacher": "plain", "round": "1", "shard": "val000"})
    assert benchmark_job(Path("ingest.tsv")) == ("ingest", {})


def test_cost_table_per_job(layout: Layout) -> None:
    costs = table_of(layout).set_index(["rule", "job"])
    assert list(costs.reset_index().columns) == list(COSTS_COLUMNS)
    # report and costs are not gathered; nor is a dataset the run does not have
    assert list(costs.index) == [
        ("attribute", "variant=plain,shard=test000"), ("attribute", "variant=plain,shard=test001"),
        ("export_external", "dataset=ph2"), ("ingest", ""),
        ("segment", "variant=plain,shard=test000")]
    # shard_size 4 of 5 test images: test000 holds 4, test001 one
    assert costs.loc[("attribute", "variant=plain,shard=test000"), "images"] == 4
    assert costs.loc[("attribute", "variant=plain,shard=test001"), "images"] == 1
    assert costs.loc[("attribute", "variant=plain,shard=test001"), "seconds_per_image"] == 4.0
    # a job without shard handles its whole dataset
    assert costs.loc[("ingest", ""), "images"] == 8
    assert costs.loc[("export_external", "dataset=ph2"), "images"] == 7
    assert math.isnan(costs.loc[("export_external", "dataset=ph2"), "max_rss_mb"])   # NA
    # two runs of a job (benchmark repeat): mean seconds, largest peak memory
    segment = costs.loc[("segment", "variant=plain,shard=test000")]
    assert segment["seconds"] == 7.0 and segment["max_rss_mb"] == 310.75
    assert segment["seconds_per_image"] == 7.0 / 4


def test_rule_costs_sum_the_jobs(layout: Layout) -> None:
    per_rule = rule_costs(table_of(layout)).set_index("rule")
    assert list(per_rule.index) == ["attribute", "segment", "ingest", "export_external"]
    attribute = per_rule.loc["attribute"]
    assert (attribute["jobs"], attribute["seconds"], attribute["images"]) == (2, 14.0, 5)
    assert attribute["seconds_per_image"] == 14.0 / 5 and attribute["max_rss_mb"] == 800.0


def test_a_job_of_an_empty_shard_has_no_cost_per_image(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    benchmark_tsv(layout.benchmark("otsu", shard="val000"), (0.2, "NA"))
    costs = cost_table(read_benchmarks([layout.benchmarks()]), {"": manifest(3)}, shard_size=4)
    assert costs["images"].tolist() == [0] and costs["seconds_per_image"].isna().all()


def test_no_benchmark_gives_an_empty_table_with_the_columns(tmp_path: Path) -> None:
    costs = cost_table(read_benchmarks([tmp_path / "none"]), {"": manifest(3)}, shard_size=4)
    assert costs.empty and list(costs.columns) == list(COSTS_COLUMNS)
