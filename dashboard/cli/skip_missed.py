"""`flask exports skip-missed`: after restoring an older backup, do not run (and mail) again what
was already run and mailed before the backup's data was lost.

A restored database says every schedule is overdue since the backup was taken; the first poll would
run each of them once (coalesced) and mail customers a second time. Started with
`SCHEDULER_ENABLED=0`, this command moves every active schedule's `next_run_at` to its next
occurrence after now, without running anything; the schedulers are started afterwards.
"""

from __future__ import annotations

import logging

import click
from sqlalchemy import or_, select, update

from dashboard.automation.calculator import next_occurrence, timing_of
from dashboard.cli.common import exports_cli
from dashboard.extensions import db
from dashboard.models.automation import ExportSchedule
from dashboard.models.types import utcnow
from dashboard.services.audit import record_audit

log = logging.getLogger(__name__)


def skip_missed(now=None, dry_run: bool = False) -> dict:
    """Move overdue active schedules to their next future occurrence; returns counts and details."""
    now = now or utcnow()
    overdue = db.session.scalars(
        select(ExportSchedule)
        .where(
            ExportSchedule.is_active.is_(True),
            or_(ExportSchedule.next_run_at.is_(None), ExportSchedule.next_run_at <= now),
        )
        .order_by(ExportSchedule.next_run_at)
    ).all()
    summary = {"overdue": len(overdue), "moved": 0, "errors": 0, "changes": []}
    for schedule in overdue:
        try:
            new_next = next_occurrence(timing_of(schedule), now).utc
        except ValueError as exc:  # a schedule whose timing cannot be computed: leave it, say so
            summary["errors"] += 1
            summary["changes"].append((schedule, schedule.next_run_at, None, str(exc)))
            continue
        summary["changes"].append((schedule, schedule.next_run_at, new_next, ""))
        if dry_run:
            continue
        # Conditional: a scheduler that claimed the occurrence meanwhile already moved it.
        moved = db.session.execute(
            update(ExportSchedule)
            .where(ExportSchedule.id == schedule.id, ExportSchedule.next_run_at == schedule.next_run_at)
            .values(next_run_at=new_next)
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved:
            summary["moved"] += 1
            record_audit(
                schedule.business_id,
                "schedule.skipped_missed",
                entity="schedule",
                entity_id=schedule.id,
                details={
                    "previous_next_run_at": schedule.next_run_at.isoformat()
                    if schedule.next_run_at
                    else None,
                    "next_run_at": new_next.isoformat(),
                    "by": "cli",
                },
                ip_address="cli",
            )
    if not dry_run:
        db.session.commit()
    log.info(
        "skip-missed finished",
        extra={"job": "skip_missed", "summary": {k: v for k, v in summary.items() if k != "changes"}},
    )
    return summary


@exports_cli.command("skip-missed")
@click.option("--dry-run", is_flag=True, help="Say what would move, change nothing.")
@click.option("--verbose", "-v", is_flag=True, help="One line per schedule.")
def skip_missed_command(dry_run: bool, verbose: bool) -> None:
    """Move every overdue active schedule to its next future occurrence, running nothing.

    For a restore: start the app with SCHEDULER_ENABLED=0, run this, then enable the scheduler."""
    summary = skip_missed(dry_run=dry_run)
    if verbose or dry_run:
        for schedule, before, after, error in summary["changes"]:
            was = before.isoformat() if before else "never"
            target = after.isoformat() if after else f"left as is ({error})"
            click.echo(f"{schedule.name} [{schedule.id}]: {was} -> {target}")
    verb = "would move" if dry_run else "moved"
    click.echo(
        f"skip-missed: {summary['overdue']} overdue, {verb} "
        f"{summary['overdue'] - summary['errors'] if dry_run else summary['moved']}, "
        f"{summary['errors']} errors."
    )
