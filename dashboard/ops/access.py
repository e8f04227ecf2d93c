"""The operator token: who may read metrics and the details of the health checks.

`OPS_TOKEN` is one shared secret for the monitoring system (Prometheus' `authorization` setting, a
load balancer's or a person's `curl -H "Authorization: Bearer $OPS_TOKEN"`). It is compared in constant
time; when it is unset nobody is an operator, so nothing is disclosed by default.
"""

from __future__ import annotations

import hmac

from flask import current_app, request

from dashboard.core.bearer import bearer_token


def presented_token() -> str:
    """The token from `Authorization: Bearer ...` or `X-Ops-Token`, else ""."""
    token = bearer_token(request.headers.get("Authorization"))
    return token if token is not None else request.headers.get("X-Ops-Token", "").strip()


def is_operator() -> bool:
    expected = current_app.config.get("OPS_TOKEN") or ""
    if not expected:
        return False
    # compare_digest on bytes: its time does not depend on where the two first differ.
    return hmac.compare_digest(presented_token().encode(), expected.encode())
