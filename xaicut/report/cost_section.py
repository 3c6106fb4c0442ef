"""The report's per-rule cost section: what each rule of the run cost, from ``costs.csv``
(``xaicut.costs``, contracts §10). Timings differ from run to run: this section is the one part
of the report that is not the same bytes for the same results."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from xaicut.costs import UNGATHERED, rule_costs
from xaicut.report.markup import figure_html, section, table_html


def rule_cost_figure(per_rule: pd.DataFrame) -> Figure:
    """Horizontal bars per rule (``rule_costs``, most seconds on top): wall seconds summed over
    its jobs, and the largest peak resident memory of one of its jobs, MB."""
    y = np.arange(len(per_rule))
    fig = Figure(figsize=(8.0, max(2.5, 0.3 * len(per_rule) + 1.2)), layout="constrained")
    seconds_ax, memory_ax = fig.subplots(1, 2, sharey=True)
    seconds_ax.barh(y, per_rule["seconds"], color="tab:blue")
    seconds_ax.set(yticks=y, yticklabels=per_rule["rule"].tolist(),
                   xlabel="wall seconds, all jobs", title="Time per rule")
    memory_ax.barh(y, per_rule["max_rss_mb"].fillna(0), color="tab:orange")
    memory_ax.set(xlabel="peak RSS of one job, MB", title="Peak memory per rule")
    seconds_ax.invert_yaxis()
    return fig


def costs_section(costs: pd.DataFrame, source: str) -> str:
    """Per rule: jobs, seconds, peak memory, images and seconds per image, a chart, and every
    job's row of ``costs`` (read from ``source``) folded away."""
    if costs.empty:
        return section("costs", None, ["<p>No benchmark file was found.</p>"])
    per_rule = rule_costs(costs)
    parts = [
        f"<p>From Snakemake's benchmark file of every job (<code>{html.escape(source)}</code>): "
        "wall seconds and peak resident memory (max RSS, MB; empty when the job ended before "
        "the first sample), the images each job handled (its shard's, else its dataset's) and "
        f"seconds per image. Not gathered: {html.escape(', '.join(UNGATHERED))} (they run "
        "after the table). Timings vary from run to run and with the machine's load.</p>",
        table_html(per_rule),
        figure_html(rule_cost_figure(per_rule), "time and peak memory per rule"),
        f"<details><summary>Every job ({len(costs)})</summary>{table_html(costs)}</details>",
    ]
    return section("costs", None, parts)
