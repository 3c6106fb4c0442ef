"""The run report: one self-contained HTML page (docs/data-contracts.md §8).

``xaicut.report.document.build_report`` writes it; ``xaicut.report.inputs`` says which files it
reads (the Snakefile declares them as the report rule's inputs, so this package's ``__init__``
imports nothing heavy). Modules: ``inputs`` (which files), ``loading`` (reading them),
``tables`` (pandas), ``figures`` and ``galleries`` (matplotlib), ``overlays`` (OpenCV pictures),
``examples`` (the example images' thumbnails), ``markup`` (HTML pieces), ``run_sections`` and
``variant_sections`` (the page's sections), ``document`` (the page) and ``__main__`` (the CLI).
"""
