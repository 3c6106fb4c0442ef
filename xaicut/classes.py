"""Class names of a dataset: the classifier's outputs are its sorted distinct labels.

HAM10000's seven ``dx`` codes sort into the fixed order of ``xaicut.CLASSES``; a plain-layout
collection (``docs/data-contracts.md`` §0) brings its own names. Every stage that needs the
names derives them from a table of the main dataset with :func:`class_names`, so no list is
stored twice.
"""

from __future__ import annotations

from collections.abc import Iterable


def class_names(labels: Iterable[object]) -> list[str]:
    """The sorted distinct class names among ``labels`` (empty strings and NaN, which mark an
    unlabelled image, left out); index ``i`` is the classifier's output ``i``."""
    return sorted({str(x) for x in labels if isinstance(x, str) and x})
