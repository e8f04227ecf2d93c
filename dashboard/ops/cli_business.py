"""`flask business export NAME --out DIR` and `flask business delete NAME`."""

from __future__ import annotations

from flask.cli import AppGroup

business_cli = AppGroup("business", help="Export or delete everything held about one business.")
