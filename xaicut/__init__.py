"""xaicut: skin-lesion segmentation from class labels only (XAI attribution maps + graph cut)."""

CLASSES: tuple[str, ...] = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
"""HAM10000 diagnosis codes in classifier output order."""

__version__ = "0.1.0"
