"""What every signed-in person does to their own account: change the password, sign out everywhere.

Both end every session and remember-me cookie of the person (dashboard/auth/sessions.py); the
caller signs the current browser in again after a password change, so only the *other* sessions
end. Audited in every business the person belongs to.
"""

from __future__ import annotations

from typing import Any

from dashboard.auth import throttle
from dashboard.auth.sessions import end_sessions
from dashboard.core.errors import ErrorCollector
from dashboard.extensions import db
from dashboard.models.pos import User
from dashboard.services.audit import record_audit
from dashboard.services.invitations import password_errors
from dashboard.services.members import reject_unknown

MSG_CURRENT_WRONG = "That is not your current password."
MSG_CURRENT_REQUIRED = "Enter your current password."
MSG_SAME_PASSWORD = "Choose a password different from the current one."


def _audit_everywhere(user: User, action: str) -> None:
    for membership in user.memberships:
        if membership.is_active:
            record_audit(membership.business_id, action, user_id=user.id, entity="user", entity_id=user.id)


def change_password(user: User, data: dict[str, Any]) -> None:
    """`current_password` must match; `new_password` follows the password rule (and
    `new_password_confirm`, when sent, must equal it). Ends all of the person's sessions."""
    reject_unknown(data, {"current_password", "new_password", "new_password_confirm"})
    errors = ErrorCollector()
    current = data.get("current_password")
    new = data.get("new_password")
    if not isinstance(current, str) or not current:
        errors.add("current_password", MSG_CURRENT_REQUIRED)
    else:
        # Counted like sign-in: a stolen session cannot guess at the password (429 once over).
        throttle.guard(user.email)
        if not user.check_password(current):
            throttle.record_failure(user.email)
            errors.add("current_password", MSG_CURRENT_WRONG)
    password_errors(new, None, errors, field="new_password")
    confirm = data.get("new_password_confirm")
    if "new_password" not in errors.errors and confirm is not None and confirm != new:
        errors.add("new_password_confirm", "The two new passwords differ: type the same password twice.")
    if not errors and current == new:
        errors.add("new_password", MSG_SAME_PASSWORD)
    errors.raise_if_any()
    user.set_password(new)  # ends the sessions signed in with the old password
    _audit_everywhere(user, "account.password")
    db.session.commit()


def sign_out_everywhere(user: User) -> None:
    end_sessions(user)
    _audit_everywhere(user, "account.sign_out_everywhere")
    db.session.commit()
