"""Rule ingest: validate the HAM10000 folder and write the split manifest."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

from xaicut.ingest import build_manifest
from xaicut.io import write_csv
from xaicut.logs import setup_logging

setup_logging(snakemake.log[0])
split = snakemake.params.split
manifest = build_manifest(snakemake.input.data, val=split["val"], test=split["test"],
                          seed=snakemake.params.seed)
write_csv(manifest, snakemake.output.manifest)
