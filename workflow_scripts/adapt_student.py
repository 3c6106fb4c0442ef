"""Rule adapt_student: fine-tune the exported variant's student on an external dataset's own
pseudo-labels (its graph cuts; no ground-truth mask read), a held-out tenth early-stopping it."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import pandas as pd
import torch

from xaicut.io import write_csv
from xaicut.logs import setup_logging
from xaicut.student import build_pseudo_labels, holdout_split, train_student

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cfg, out = snakemake.params.student, snakemake.output
manifest = pd.read_csv(snakemake.input.manifest)
manifest["split"] = holdout_split(manifest.image_id, cfg["adapt_val_fraction"],
                                  snakemake.params.seed)
table = build_pseudo_labels(manifest, snakemake.input.teacher, snakemake.input.evidence,
                            out.folder, cfg["ignore"], cfg["boundary_width"], cfg["keep_fraction"])
write_csv(table, out.table)
train_student(out.table, out.model, out.history, {**cfg, "epochs": cfg["adapt_epochs"]},
              device=snakemake.params.device, seed=snakemake.params.seed,
              resume_path=snakemake.params.resume, initial=snakemake.input.initial)
