"""Entry point for `flask --app app` and gunicorn (`gunicorn app:app`)."""

import gc

from dashboard import create_app, database
from dashboard.process_role import serves_routes

# A `flask` command other than run/routes/shell/limiter needs no page or API route.
app = create_app(routes=serves_routes())
database.close_at_exit(app)

# What starting made (modules, models, the app) lives as long as the process, so the cyclic
# collector need not walk it again: its last pass at exit walked all of it, 80 ms of every `flask`
# command (issue 21, docs/performance.md). Nothing frozen is collected, so what must be closed at
# exit is closed by an atexit handler (database.close_at_exit).
gc.freeze()
