"""The check every test's database gets on the way out: export_history_counts equals a GROUP BY
over export_history (models/history_counts.py keeps it with triggers)."""

from __future__ import annotations

from sqlalchemy import text

GROUPED = text(
    'SELECT business_id, export_type, format, status, "trigger", count(*) FROM export_history '
    'GROUP BY business_id, export_type, format, status, "trigger"'
)
KEPT = text(
    'SELECT business_id, export_type, format, status, "trigger", runs FROM export_history_counts '
    "WHERE runs <> 0"
)


def counts_mismatch(connection) -> dict:
    """{key: (kept, actual)} for every key where the kept count is wrong; {} when exact."""
    actual = {tuple(str(v) for v in row[:5]): row[5] for row in connection.execute(GROUPED)}
    kept = {tuple(str(v) for v in row[:5]): row[5] for row in connection.execute(KEPT)}
    return {
        key: (kept.get(key), actual.get(key))
        for key in actual.keys() | kept.keys()
        if kept.get(key) != actual.get(key)
    }
