"""Everything the product holds about one business: exported to a folder, or deleted.

The tables are found from the models' metadata, not listed by hand: every table with a
`business_id` column holds that business's rows, so a table added later (by any feature) is
exported and deleted without this module changing. Tables tied to a business through a parent
(sale lines through sales, API tokens through memberships) are listed in CHILDREN. Users are people,
not business data: the export lists the members (never password hashes or token hashes); deleting a
business deletes the users who belonged to it and to no other business.
"""

from __future__ import annotations

import csv
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Table, delete, func, select

from dashboard.extensions import db
from dashboard.models.pos import Business, Membership, User

log = logging.getLogger(__name__)

# table -> (parent table, column pointing at the parent's id)
CHILDREN = {"sale_lines": ("sales", "sale_id"), "api_tokens": ("memberships", "membership_id")}
# Never written out: secrets, even hashed.
SECRET_COLUMNS = {"password_hash", "token_hash", "claim_token"}
BATCH = 5000


@dataclass
class BusinessDataReport:
    business: str
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    missing_files: int = 0
    users_deleted: int = 0


def business_tables() -> list[Table]:
    """Tables holding a business's rows, parents before children (the metadata's order)."""
    tables = []
    for table in db.metadata.sorted_tables:
        if table.name == "businesses":
            continue
        if "business_id" in table.c or table.name in CHILDREN:
            tables.append(table)
    return tables


def _rows_query(table: Table, business_id: uuid.UUID):
    if "business_id" in table.c:
        return table.c.business_id == business_id
    parent_name, column = CHILDREN[table.name]
    parent = db.metadata.tables[parent_name]
    return table.c[column].in_(select(parent.c.id).where(parent.c.business_id == business_id))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return value


def counts(business_id: uuid.UUID) -> dict[str, int]:
    """Rows per table for one business (the test and the command's summary)."""
    return {
        table.name: db.session.scalar(
            select(func.count()).select_from(table).where(_rows_query(table, business_id))
        )
        or 0
        for table in business_tables()
    }


def export_business(business: Business, out: Path) -> BusinessDataReport:
    """Write every table's rows as `<table>.csv`, `business.json`, `members.csv` and the export
    files under `files/`. `out` must not exist or be empty."""
    from dashboard.storage import get_storage

    out.mkdir(parents=True, exist_ok=True)
    report = BusinessDataReport(business.name)
    info = {
        "id": str(business.id),
        "name": business.name,
        "timezone": business.timezone,
        "currency": business.currency,
        "created_at": _plain(business.created_at),
        "exported_at": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    for table in business_tables():
        columns = [c for c in table.c if c.name not in SECRET_COLUMNS]
        query = select(*columns).where(_rows_query(table, business.id))
        if "id" in table.c:
            query = query.order_by(table.c.id)
        written = 0
        with open(out / f"{table.name}.csv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([c.name for c in columns])
            result = db.session.execute(query.execution_options(yield_per=BATCH))
            for row in result:
                writer.writerow([_plain(v) for v in row])
                written += 1
        report.rows[table.name] = written
    members = db.session.execute(
        select(
            User.email, User.name, User.is_active_user, User.created_at, Membership.role, Membership.is_active
        )
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.business_id == business.id)
        .order_by(User.email)
    ).all()
    with open(out / "members.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name", "user_active", "created_at", "role", "membership_active"])
        writer.writerows([_plain(v) for v in row] for row in members)
    report.rows["members"] = len(members)
    history = db.metadata.tables["export_history"]
    storage = get_storage()
    files_dir = out / "files"
    run_files = db.metadata.tables["export_run_files"]  # a run's files after its first (formats)
    stored = (
        db.session.execute(
            select(history.c.id, history.c.file_path, history.c.file_name).where(
                history.c.business_id == business.id, history.c.file_path != ""
            )
        ).all()
        + db.session.execute(
            select(run_files.c.history_id, run_files.c.file_path, run_files.c.file_name).where(
                run_files.c.business_id == business.id, run_files.c.position > 0, run_files.c.file_path != ""
            )
        ).all()
    )
    for history_id, path, name in stored:
        target = files_dir / f"{history_id}_{Path(name or 'export').name}"
        try:
            with storage.get_export_file(path) as source:
                files_dir.mkdir(exist_ok=True)
                with open(target, "wb") as handle:
                    while chunk := source.read(1024 * 1024):
                        handle.write(chunk)
            report.files += 1
        except Exception as exc:  # cleaned up meanwhile, or the store is down: say so, go on
            report.missing_files += 1
            log.warning("business export: file %s of run %s not copied: %s", path, history_id, exc)
    info["rows"] = report.rows
    info["files"] = report.files
    info["missing_files"] = report.missing_files
    (out / "business.json").write_text(
        json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    db.session.rollback()
    return report


def delete_business(business: Business) -> BusinessDataReport:
    """Delete the business, every row of it in every table, its files, and its members who belong
    to no other business. Rows first (children before parents), files, then the business."""
    from dashboard.storage import get_storage

    report = BusinessDataReport(business.name)
    business_id = business.id
    history = db.metadata.tables["export_history"]
    run_files = db.metadata.tables["export_run_files"]  # a run's files after its first (formats)
    paths = [
        path
        for (path,) in db.session.execute(
            select(history.c.file_path).where(history.c.business_id == business_id, history.c.file_path != "")
        )
    ] + [
        path
        for (path,) in db.session.execute(
            select(run_files.c.file_path).where(
                run_files.c.business_id == business_id, run_files.c.position > 0, run_files.c.file_path != ""
            )
        )
    ]
    member_ids = list(
        db.session.scalars(select(Membership.user_id).where(Membership.business_id == business_id))
    )
    # Children before parents; the kept run counts last (deleting runs decrements them by trigger).
    tables = list(reversed(business_tables()))
    ordered = [t for t in tables if t.name != "export_history_counts"] + [
        t for t in tables if t.name == "export_history_counts"
    ]
    for table in ordered:
        result = db.session.execute(delete(table).where(_rows_query(table, business_id)))
        report.rows[table.name] = result.rowcount or 0
    db.session.execute(delete(Business.__table__).where(Business.__table__.c.id == business_id))
    orphans = [
        user_id
        for user_id in member_ids
        if not db.session.scalar(select(func.count(Membership.id)).where(Membership.user_id == user_id))
    ]
    if orphans:
        report.users_deleted = db.session.execute(
            delete(User.__table__).where(User.__table__.c.id.in_(orphans))
        ).rowcount
    db.session.commit()
    storage = get_storage()
    for path in paths:
        try:
            if storage.delete_export_file(path):
                report.files += 1
            else:
                report.missing_files += 1
        except Exception as exc:  # the rows are gone; a file left behind is logged for the operator
            report.missing_files += 1
            log.warning("business delete: file %s not deleted: %s", path, exc)
    return report
