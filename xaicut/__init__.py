"""xaicut: skin-lesion segmentation from class labels only (XAI attribution maps + graph cut).

Docstrings cite papers by number ("paper 000 §2.3"); docs/references.md lists them.
"""

CLASSES: tuple[str, ...] = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
"""HAM10000 diagnosis codes in classifier output order."""

__version__ = "0.1.0"
