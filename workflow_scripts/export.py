"""Rule export: the segmentations folder and table of the main or an external dataset."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

from pathlib import Path

import pandas as pd

from xaicut.classes import class_names
from xaicut.export import ExportPlan, auto_export_stage, export_segmentations
from xaicut.layout import Layout
from xaicut.logs import setup_logging
from xaicut.shards import AUTO_EXPORT, shard_rows

setup_logging(snakemake.log[0])
params = snakemake.params
manifest = pd.read_csv(snakemake.input.manifest, keep_default_na=False)
main_manifest = pd.read_csv(snakemake.input.get("classes", snakemake.input.manifest))
stage = (auto_export_stage(snakemake.input.get("student_history"), params.min_student_agreement)
         if params.stage == AUTO_EXPORT else params.stage)
plan = ExportPlan(params.variant, stage, params.method, tuple(class_names(main_manifest.dx)))
export_segmentations({sh: shard_rows(manifest, sh, params.shard_size) for sh in params.shards},
                     Layout(Path(params.results_dir), params.run), snakemake.input.segment, plan,
                     out_dir=snakemake.output.folder, out_csv=snakemake.output.table)
