"""Rule ingest: validate the dataset folder; write the split manifest and the rejected inputs."""

import xaicut_on_path  # noqa: F401  (first: makes the repository's xaicut importable)

# isort: split

import pandas as pd

from xaicut.classes import class_names
from xaicut.ingest import ingest_release
from xaicut.io import write_csv
from xaicut.logs import setup_logging

setup_logging(snakemake.log[0])
params, split = snakemake.params, snakemake.params.split
main = snakemake.input.get("classes")  # an external dataset takes the main dataset's classes
ingested = ingest_release(snakemake.input.data, val=split["val"], test=split["test"],
                          seed=params.seed, on_bad_input=params.on_bad_input,
                          external=params.external, masks=params.masks,
                          label_column=params.label_column,
                          classes=class_names(pd.read_csv(main).dx) if main else None,
                          max_image_pixels=params.max_image_pixels)
write_csv(ingested.rejected, snakemake.output.rejected)
write_csv(ingested.manifest, snakemake.output.manifest)
