"""`flask exports run-due | cleanup | retry-failed | send-summaries | recount` and `flask scheduler run`.

The ``exports`` commands make one pass of a job, print a one-line summary and exit 0; they work
beside any number of running schedulers (every run is claimed in the database). ``run-due`` and
``retry-failed`` wait for the runs they started.
"""

from __future__ import annotations

import click
from flask import current_app

from dashboard.automation import jobs
from dashboard.cli.common import exports_cli, scheduler_cli


def _line(name: str, summary: dict, keys: list[str]) -> str:
    parts = [f"{summary.get(key, 0)} {key.replace('_', ' ')}" for key in keys if key in summary]
    return f"{name}: " + (", ".join(parts) if parts else "done") + "."


@exports_cli.command("run-due")
def run_due_command() -> None:
    """Recover stale runs, run every due schedule once, wait for the runs."""
    summary = jobs.check_and_run_scheduled_exports(wait=True)
    click.echo(
        _line(
            "run-due",
            summary,
            [
                "due",
                "claimed",
                "lost",
                "started",
                "completed",
                "failed",
                "recovered_stale",
                "expired_pending",
            ],
        )
    )


@exports_cli.command("recount")
def recount_command() -> None:
    """Rebuild the history list's kept run counts from the runs themselves."""
    from dashboard.services.history import rebuild_history_counts

    summary = rebuild_history_counts()
    click.echo(_line("recount", summary, ["corrected", "runs", "businesses"]))


@exports_cli.command("cleanup")
@click.option(
    "--days",
    type=click.IntRange(min=0),
    default=None,
    help="Keep files this many days (default EXPORT_RETENTION_DAYS).",
)
def cleanup_command(days: int | None) -> None:
    """Delete export files past the retention period (their history records stay)."""
    summary = jobs.cleanup_old_exports(days)
    click.echo(
        _line(
            "cleanup",
            summary,
            [
                "deleted_files",
                "missing_files",
                "cleared_records",
                "refused",
                "errors",
                "partial_files_removed",
                "history_deleted",
                "mail_deleted",
                "audit_deleted",
            ],
        )
    )


@exports_cli.command("retry-failed")
def retry_failed_command() -> None:
    """Retry failed scheduled runs whose backoff has passed; wait for them."""
    summary = jobs.retry_failed_exports(wait=True)
    click.echo(_line("retry-failed", summary, ["candidates", "retried", "skipped", "completed", "failed"]))


@exports_cli.command("send-summaries")
@click.option("--force", is_flag=True, help="Send the past 7 days' summary now, whatever the day.")
def send_summaries_command(force: bool) -> None:
    """Send the weekly export summaries that are due now (Sundays 08:00 in each business's timezone)."""
    summary = jobs.send_export_summary_report(force=force)
    keys = [key for key, value in summary.items() if isinstance(value, int | float)]
    click.echo(_line("send-summaries", summary, keys))


@scheduler_cli.command("run")
def scheduler_run_command() -> None:
    """Run the export scheduler in the foreground (Ctrl-C or SIGTERM stops it cleanly)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo(
        f"Export scheduler running: polling every {app.config['SCHEDULER_POLL_SECONDS']}s with "
        f"{app.config['EXPORT_WORKERS']} workers. Ctrl-C to stop."
    )
    jobs.run_scheduler_forever(app)
    click.echo("Export scheduler stopped.")
