"""Entry point for `flask --app app` and gunicorn (`gunicorn app:app`)."""

import gc


def _started():
    from dashboard import create_app, database
    from dashboard.process_role import serves_routes

    # A `flask` command other than run/routes/shell/limiter needs no page or API route.
    app = create_app(routes=serves_routes())
    database.close_at_exit(app)
    return app


# Starting makes some 100,000 objects that live as long as the process (modules, models, the app),
# and the cyclic collector walked them again and again while they were made: 28 ms of every `flask`
# command, for 21 unreachable objects (issue 21, docs/performance.md). So it is held back while
# starting, and what starting made is then frozen: later passes, and the last one at exit, never
# walk it (80 ms). Nothing frozen is collected, so what must be closed at exit is closed by an
# atexit handler (database.close_at_exit).
_collecting = gc.isenabled()
gc.disable()
try:
    app = _started()
    gc.freeze()
finally:
    if _collecting:
        gc.enable()
