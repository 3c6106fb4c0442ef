"""Rule score_segmentations: the exported folder against the ground truth, split by split."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import pandas as pd

from xaicut.io import write_csv
from xaicut.logs import setup_logging
from xaicut.metrics import score_segmentations, summarise

setup_logging(snakemake.log[0])
manifest = pd.read_csv(snakemake.input.manifest)
truth = manifest[manifest.has_mask].set_index("image_id").mask_path
per_image = score_segmentations(pd.read_csv(snakemake.input.table), truth, snakemake.input.folder)
write_csv(per_image, snakemake.output.per_image)
write_csv(summarise(per_image, ["variant", "stage", "split"]), snakemake.output.by_split)
