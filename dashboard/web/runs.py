"""The runner, as the pages call it: web triggers are MANUAL, runs proceed on the worker pool."""

from __future__ import annotations


def runner():
    from dashboard.automation.runner import ScheduledExportRunner

    return ScheduledExportRunner()
