"""Entry point for `flask --app app` and gunicorn (`gunicorn app:app`)."""

from dashboard import create_app
from dashboard.process_role import serves_routes

# A `flask` command other than run/routes/shell/limiter needs no page or API route.
app = create_app(routes=serves_routes())
