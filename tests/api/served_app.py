"""A real server on loopback for schemathesis: the app on a file-backed database, a seeded
business (schedules, runs with stored files) and an API token, served by werkzeug in a thread.

The suite uses `served_api()`; by hand (the command in docs/api.md):

    .venv/bin/python -m tests.api.served_app          # prints the URL and the token, serves
    .venv/bin/schemathesis run http://127.0.0.1:PORT/api/openapi.json --checks all \
        --mode all -H "Authorization: Bearer TOKEN"
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from werkzeug.serving import make_server

os.environ.setdefault("FLASK_SKIP_DOTENV", "1")

from config import TestConfig  # noqa: E402
from dashboard import create_app  # noqa: E402
from dashboard.auth.tokens import create_token  # noqa: E402
from dashboard.extensions import db  # noqa: E402
from dashboard.services.keyset import Cursor, encode_cursor  # noqa: E402


@dataclass
class ServedApi:
    url: str  # http://127.0.0.1:PORT
    token: str
    ids: dict[str, list[str]] = field(default_factory=dict)
    cursor: str = ""  # a real position in the history list (the hooks send it as `cursor`)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _seed(app) -> tuple[str, dict[str, list[str]], str]:
    from tests.api.conftest import make_history, make_schedule, store_file
    from tests.conftest import Factory

    with app.app_context():
        db.create_all()
        factory = Factory(app)
        business = factory.business("Fuzz Shop", timezone="Europe/London")
        owner = factory.user(business, role="owner", email="owner@fuzz.example.com")
        token = create_token(owner.memberships[0])
        schedules = [
            make_schedule(business, owner, name="Weekly customers", export_type="CUSTOMERS", filters={}),
            make_schedule(business, owner, name="Monthly stock", export_type="INVENTORY", filters={}),
            make_schedule(
                business,
                owner,
                name="Overdue audit",
                export_type="AUDIT_LOGS",
                next_run_at=datetime.now(UTC) - timedelta(hours=1),
            ),
        ]
        runs = []
        for status in ("COMPLETED", "EMAILED", "FAILED", "PENDING"):
            run = make_history(business, owner, schedules[0], status=status, file_name="customers.csv")
            if status in ("COMPLETED", "EMAILED"):
                store_file(app, run)
            runs.append(run)
        ids = {"schedules": [str(s.id) for s in schedules], "history": [str(h.id) for h in runs]}
        newest = max(runs, key=lambda run: (run.created_at, run.id))
        cursor = encode_cursor(Cursor(created_at=newest.created_at, id=newest.id, older=True, page=2))
        db.session.remove()
    return token, ids, cursor


@contextmanager
def served_api(root: Path, **config) -> Iterator[ServedApi]:
    """Serve the app on 127.0.0.1 (a free port) for the duration of the block."""
    settings = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'served.sqlite3'}",
        "EXPORT_ROOT": str(root / "exports"),
        "MAIL_OUTBOX_DIR": str(root / "outbox"),
        **config,
    }
    app = create_app(TestConfig, **settings)
    token, ids, cursor = _seed(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ServedApi(url=f"http://127.0.0.1:{server.server_port}", token=token, ids=ids, cursor=cursor)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as directory, served_api(Path(directory)) as api:
        print(f"URL   {api.url}/api/openapi.json", flush=True)
        print(f"TOKEN {api.token}", flush=True)
        print(f"CURSOR {api.cursor}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
