"""HTML pieces of the report: sections, tables, notes and embedded figures.

Figures are embedded as base64 PNG data URIs without timestamps, so the same results give the
same bytes.
"""

from __future__ import annotations

import base64
import html
import io

import pandas as pd
from matplotlib.figure import Figure

SECTION_TITLES = {
    "segmentations": "Segmentations: one mask per image, least confident first to review",
    "summary": "Segmentation summary",
    "unet-vs-xai": "Supervised U-Net vs XAI segmentation",
    "ablation": "Stage ablation",
    "per-class": "Segmentation per class",
    "published": "Published results (on their own datasets)",
    "attribution": "Attribution maps: threshold study and faithfulness",
    "classifier": "Classifier",
    "examples": "Examples",
    "failures": "Failure analysis: worst test images",
    "cross-dataset": "Cross-dataset: other datasets segmented with these models",
    "costs": "Per-rule cost",
}
COMPARISON_SECTIONS = ("segmentations", "unet-vs-xai", "ablation", "published", "cross-dataset",
                       "costs")
"""Sections over every classifier variant; the others are repeated per variant."""
NOT_SCORED = ("No test image has a ground-truth mask: nothing was scored (the scores need "
              "masks; the exported segmentations need none).")
"""The note of every scored part when the test split has no mask."""
COUNT_COLUMNS = ("n_images", "support", "epoch", "n_correct", "n_wrong", "jobs", "images")
"""Columns shown as integers."""
CSS = """
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { border-bottom: 2px solid #444; } h2 { border-bottom: 1px solid #bbb; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #eee; } tbody tr:nth-child(even) { background: #f7f7f7; }
img { max-width: 100%; display: block; margin: 1em 0; }
.note { color: #8a5a00; font-style: italic; } pre { background: #f4f4f4; padding: 1em; }
"""


def figure_html(fig: Figure, alt: str, dpi: int = 100) -> str:
    """An ``<img>`` element embedding ``fig`` as a PNG data URI (no timestamp in the PNG)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def table_html(table: pd.DataFrame) -> str:
    """A table with 3-decimal floats, integer counts and empty cells for missing values."""
    counts = {c: (lambda v: "" if pd.isna(v) else str(int(v))) for c in COUNT_COLUMNS}
    return table.to_html(
        index=False,
        float_format="{:.3f}".format,
        na_rep="",
        border=0,
        formatters={c: f for c, f in counts.items() if c in table.columns},
    )


def note(text: str) -> str:
    """A highlighted remark: what the configuration or the data left out."""
    return f'<p class="note">{html.escape(text)}</p>'


def anchor_id(anchor: str, variant: str | None) -> str:
    """The HTML id of a section (of one classifier variant, or over all: ``variant`` None)."""
    return f"{anchor}-{variant}" if variant else anchor


def section(anchor: str, variant: str | None, parts: list[str]) -> str:
    """A ``<section>`` with the heading of ``SECTION_TITLES[anchor]`` (and the variant's name)."""
    heading = html.escape(SECTION_TITLES[anchor] + (f" — {variant}" if variant else ""))
    return (f'<section id="{anchor_id(anchor, variant)}">\n<h2>{heading}</h2>\n'
            + "\n".join(parts) + "\n</section>")


def navigation(variants: list[str]) -> list[str]:
    """One line of section links over all variants, then one per classifier variant."""
    lines = [(None, COMPARISON_SECTIONS)] + [
        (v, [a for a in SECTION_TITLES if a not in COMPARISON_SECTIONS]) for v in variants]
    navs = []
    for variant, anchors in lines:
        links = " | ".join(
            f'<a href="#{anchor_id(a, variant)}">{html.escape(SECTION_TITLES[a])}</a>'
            for a in anchors)
        label = f"<b>{html.escape(variant)}</b>: " if variant else ""
        navs.append(f"<nav>{label}{links}</nav>")
    return navs


def page(title: str, sections: list[str]) -> str:
    """The whole HTML document."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(sections) + "\n</body>\n</html>\n"
    )
