"""Rule otsu: the Otsu lesion of the image alone (no classifier) for one shard of the main or an
external dataset."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import pandas as pd

from xaicut.io import atomic_directories
from xaicut.logs import setup_logging
from xaicut.seeds import SeedParams
from xaicut.segment import otsu_masks
from xaicut.shards import shard_rows

setup_logging(snakemake.log[0])
manifest = pd.read_csv(snakemake.input.manifest)
rows = shard_rows(manifest, snakemake.wildcards.shard, snakemake.params.shard_size)
with atomic_directories([snakemake.output[0]]) as (out_dir,):
    otsu_masks(manifest, rows.image_id.tolist(), out_dir, SeedParams(**snakemake.params.seeding))
