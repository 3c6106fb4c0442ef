"""Per-rule cost of a run: Snakemake's benchmark files gathered into one table (contracts §10).

Every rule but ``all`` has a ``benchmark:`` file (``Layout.benchmark``): a TSV as Snakemake writes
it, one row per run of the job, columns ``s`` (wall seconds), ``h:m:s``, ``max_rss`` (peak
resident memory of the job's processes, MB; ``NA`` when the job ended before the first sample),
``max_vms``, ``max_uss``, ``max_pss``, ``io_in``, ``io_out``, ``mean_load`` and ``cpu_time``. Its
path below the benchmarks folder names the rule and the job's wildcards:
``{rule}.tsv`` or ``{rule}/{name}={value}/…/{name}={value}.tsv``.

``cost_table`` turns those files into ``costs.csv``: one row per job, with the images it handled
(a shard's images for a job with a ``shard`` wildcard, else every image of its dataset: the
external one of a ``dataset`` wildcard or the main one), so that seconds per image project a
larger run. ``rule_costs`` sums it per rule. The rules ``costs`` and ``report`` are not gathered:
``report`` shows the table that ``costs`` writes, so neither has finished when it is written.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from xaicut.shards import shard_dataset, shard_rows

COSTS_COLUMNS = ("rule", "job", "seconds", "max_rss_mb", "images", "seconds_per_image")
"""Columns of ``costs.csv`` (contracts §10)."""
RULE_COST_COLUMNS = ("rule", "jobs", "seconds", "max_rss_mb", "images", "seconds_per_image")
"""Columns of ``rule_costs``: per rule, summed over its jobs (peak memory: the largest)."""
UNGATHERED = ("costs", "report")
"""Rules whose benchmarks ``costs.csv`` leaves out: the report reads it, ``costs`` writes it."""
BENCHMARK_SUFFIX = ".tsv"


def benchmark_job(relative: Path) -> tuple[str, dict[str, str]]:
    """The rule and the wildcards (name → value, in path order) of a benchmark file's path
    relative to its benchmarks folder (``Layout.benchmark``)."""
    parts = relative.with_suffix("").parts
    wildcards = dict(part.split("=", 1) for part in parts[1:])
    return parts[0], wildcards


def job_images(wildcards: dict[str, str], manifests: dict[str, pd.DataFrame],
               shard_size: int) -> int | None:
    """Images a job handled: its shard's (``shard`` wildcard), else every image of its dataset
    (``dataset`` wildcard: the external one; else the main one). ``manifests``: dataset name
    ('' the main one) → manifest (contracts §1). None for a dataset not in ``manifests`` (a
    job of another configuration's external dataset, whose benchmark stayed in the folder)."""
    shard = wildcards.get("shard")
    dataset = shard_dataset(shard) if shard else wildcards.get("dataset", "")
    if dataset not in manifests:
        return None
    if shard:
        return len(shard_rows(manifests[dataset], shard, shard_size))
    return len(manifests[dataset])


def cost_table(benchmarks: dict[Path, pd.DataFrame], manifests: dict[str, pd.DataFrame],
               shard_size: int) -> pd.DataFrame:
    """``costs.csv`` (columns ``COSTS_COLUMNS``, sorted by rule and job) of benchmark tables
    (path relative to its benchmarks folder → Snakemake's TSV read as a table). ``seconds``:
    the mean wall time over the table's rows (``repeat`` runs); ``max_rss_mb``: the largest
    peak resident memory, empty when never sampled; ``job``: the wildcards as
    ``name=value,…`` (empty for a rule without); ``seconds_per_image``: empty for a job of no
    image. Rules of ``UNGATHERED`` and jobs of datasets not in ``manifests`` are left out."""
    rows = []
    for relative, table in benchmarks.items():
        rule, wildcards = benchmark_job(relative)
        images = job_images(wildcards, manifests, shard_size)
        if rule in UNGATHERED or images is None:
            continue
        seconds = float(pd.to_numeric(table["s"]).mean())
        rows.append({
            "rule": rule,
            "job": ",".join(f"{k}={v}" for k, v in wildcards.items()),
            "seconds": seconds,
            "max_rss_mb": pd.to_numeric(table["max_rss"], errors="coerce").max(),
            "images": images,
            "seconds_per_image": seconds / images if images else float("nan"),
        })
    costs = pd.DataFrame(rows, columns=list(COSTS_COLUMNS))
    return costs.sort_values(["rule", "job"], ignore_index=True)


def rule_costs(costs: pd.DataFrame) -> pd.DataFrame:
    """Per rule of ``costs.csv``: its jobs, their seconds and images summed, the largest peak
    memory, and seconds per image (summed seconds over summed images), most seconds first."""
    per_rule = costs.groupby("rule", sort=False).agg(
        jobs=("job", "size"), seconds=("seconds", "sum"), max_rss_mb=("max_rss_mb", "max"),
        images=("images", "sum")).reset_index()
    per_rule["seconds_per_image"] = per_rule["seconds"] / per_rule["images"].where(
        per_rule["images"] > 0)
    order = per_rule.sort_values(["seconds", "rule"], ascending=[False, True])
    return order[list(RULE_COST_COLUMNS)].reset_index(drop=True)


def read_benchmarks(folders: list[Path]) -> dict[Path, pd.DataFrame]:
    """Every benchmark TSV below ``folders`` (the shared rules' and the run's,
    ``Layout.benchmarks``), keyed by its path relative to its folder."""
    return {path.relative_to(folder): pd.read_csv(path, sep="\t")
            for folder in folders for path in sorted(Path(folder).rglob(f"*{BENCHMARK_SUFFIX}"))}
