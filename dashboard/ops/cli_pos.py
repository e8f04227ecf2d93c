"""`flask pos import TYPE FILE.csv --business NAME` (docs/pos-schema.md)."""

from __future__ import annotations

from flask.cli import AppGroup

pos_cli = AppGroup("pos", help="Point-of-sale data coming in (docs/pos-schema.md).")
