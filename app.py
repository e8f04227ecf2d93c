"""Entry point for `flask --app app` and gunicorn (`gunicorn app:app`)."""

from dashboard import create_app
from dashboard.process_role import serves_routes

# A `flask` command other than run/routes/shell/limiter needs no page or API route.
app = create_app(routes=serves_routes())

import os as _os  # TEMP diagnosis
if _os.environ.get("DIAG_CPU"):
    import time as _t
    from flask import g as _g, request as _r

    _acc = {}

    @app.before_request
    def _diag_start():
        _g._t0 = _t.thread_time()

    @app.after_request
    def _diag_end(resp):
        k = _r.path.split("?")[0][:30] + ("f" if _r.args.get("status") else "")
        a = _acc.setdefault(k, [0, 0.0])
        a[0] += 1; a[1] += _t.thread_time() - _g._t0
        if a[0] % 200 == 0:
            print(f"DIAG pid {_os.getpid()} {k} n={a[0]} thread-cpu/req {a[1]/a[0]*1000:.2f} ms", flush=True)
        return resp
