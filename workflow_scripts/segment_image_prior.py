"""Rule segment_image_prior: the graph cut seeded by the Otsu lesion alone (no classifier) for one
shard of the main or an external dataset."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import pandas as pd

from xaicut.graphcut import GraphCutParams
from xaicut.io import atomic_directories, write_csv
from xaicut.logs import setup_logging
from xaicut.seeds import SeedParams
from xaicut.segment import segment_images
from xaicut.shards import shard_rows

setup_logging(snakemake.log[0])
seeding = {k: v for k, v in snakemake.params.seeding.items() if k != "modes"}
manifest = pd.read_csv(snakemake.input.manifest)
rows = shard_rows(manifest, snakemake.wildcards.shard, snakemake.params.shard_size)
with atomic_directories([snakemake.output.masks]) as (graphcut,):
    table = segment_images(manifest, rows.image_id.tolist(), lambda _: {},
                           {"graphcut_otsu": "otsu"}, {"graphcut_otsu": graphcut},
                           SeedParams(**seeding),
                           GraphCutParams(**snakemake.params.segment, seed=snakemake.params.seed))
write_csv(table, snakemake.output.table)
