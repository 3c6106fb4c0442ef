"""Rule ingest: validate the HAM10000 folder; write the split manifest and the rejected inputs."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

from xaicut.ingest import ingest_release
from xaicut.io import write_csv
from xaicut.logs import setup_logging

setup_logging(snakemake.log[0])
split = snakemake.params.split
ingested = ingest_release(snakemake.input.data, val=split["val"], test=split["test"],
                          seed=snakemake.params.seed, on_bad_input=snakemake.params.on_bad_input,
                          external=snakemake.params.external)
write_csv(ingested.rejected, snakemake.output.rejected)
write_csv(ingested.manifest, snakemake.output.manifest)
