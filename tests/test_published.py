"""The published numbers are well-formed: known metrics, printed values in range of their unit."""

from __future__ import annotations

from xaicut.metrics import METRICS
from xaicut.published import PUBLISHED, TABLE_COLUMNS, published_table


def test_published_values_are_metrics_in_range() -> None:
    for result in PUBLISHED:
        assert result.unit in ("", "%") and set(result.scores) <= set(METRICS)
        top = 100 if result.unit == "%" else 1
        assert all(0 < float(value) <= top for _, value in result.scores.values()), result


def test_published_table_has_a_row_per_result() -> None:
    table = published_table()
    assert len(table) == len(PUBLISHED)
    assert list(table.columns[:len(TABLE_COLUMNS)]) == list(TABLE_COLUMNS)
    assert table.columns[-1] == "As published"
    assert table.loc[2, "Jaccard"] == "74.76 %" and table.loc[0, "Accuracy"] == ""
