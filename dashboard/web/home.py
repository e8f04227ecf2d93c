"""Home: what needs attention first."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from dashboard.tenancy import require_business

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required
def index():
    business = require_business()
    return render_template("home/index.html", business=business)
