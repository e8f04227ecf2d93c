"""Statistics (owners): the run figures and three charts drawn on the server as SVG."""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

from dashboard.core.labels import EXPORT_TYPE_LABELS, FORMAT_LABELS
from dashboard.models.automation import EXPORT_TYPES, FORMATS
from dashboard.models.pos import ROLE_OWNER
from dashboard.services import statistics as service
from dashboard.tenancy import require_business, role_required
from dashboard.web import charts
from dashboard.web.common import render_page

bp = Blueprint("statistics", __name__, url_prefix="/statistics")


@bp.before_request
@login_required
@role_required(ROLE_OWNER)
def _owners_only():
    require_business()


@bp.route("/")
def index():
    business = require_business()
    stats = service.statistics(business)
    context = {
        "business": business,
        "stats": stats,
        "daily_chart": charts.daily_chart(stats["daily"]),
        "daily_chart_narrow": charts.daily_chart(stats["daily"], width=360, height=220),
        "type_chart": charts.rate_chart(stats["by_type"], EXPORT_TYPE_LABELS, EXPORT_TYPES),
        "format_chart": charts.rate_chart(stats["by_format"], FORMAT_LABELS, FORMATS),
        "size_chart": charts.size_chart(service.average_file_size_by_format(business), FORMAT_LABELS),
    }
    return render_page("statistics/index.html", "statistics/partials/_content.html", **context)
