"""A real poller process for the multi-process tests (run with the venv's python, cwd = repo).

    python tests/automation/mp_worker.py poll START_AT DUE_AT DEADLINE

Waits until START_AT (epoch seconds), then polls like `flask exports run-due` does (stale
recovery, claim, run, wait) in a loop until nothing due at DUE_AT or before is left unclaimed or
unfinished, or DEADLINE passes. Prints one JSON line: the summed figures of its passes.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime


def main() -> None:
    mode, start_at, due_at, deadline = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    assert mode == "poll"
    from sqlalchemy import func, select

    from dashboard import create_app
    from dashboard.automation.jobs import check_and_run_scheduled_exports
    from dashboard.extensions import db
    from dashboard.models import ExportHistory, ExportSchedule

    app = create_app()
    due = datetime.fromtimestamp(due_at, UTC)
    totals: Counter = Counter()
    with app.app_context():
        while time.time() < start_at:
            time.sleep(0.005)
        passes = 0
        while time.time() < deadline:
            summary = check_and_run_scheduled_exports(wait=True)
            passes += 1
            totals.update({k: v for k, v in summary.items() if isinstance(v, int)})
            if time.time() > due_at:
                left_due = db.session.scalar(
                    select(func.count(ExportSchedule.id)).where(
                        ExportSchedule.is_active.is_(True), ExportSchedule.next_run_at <= due
                    )
                )
                unfinished = db.session.scalar(
                    select(func.count(ExportHistory.id)).where(
                        ExportHistory.status.in_(("PENDING", "PROCESSING"))
                    )
                )
                db.session.rollback()
                if not left_due and not unfinished:
                    break
            time.sleep(0.02)
        totals["passes"] = passes
    print(json.dumps(dict(totals)))


if __name__ == "__main__":
    main()
