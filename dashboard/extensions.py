"""Extension singletons, bound to the app in create_app()."""

import flask_login
from flask import current_app, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login.utils import decode_cookie, encode_cookie
from flask_mail import Mail
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from dashboard.lazy_migrate import LazyMigrate
from dashboard.rate_limit_memory import SweptMemoryStorage  # noqa: F401 (registers memory://)

# Named constraints so that Alembic batch migrations on SQLite can alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class LoginManager(flask_login.LoginManager):
    """Flask-Login's, with remember-me cookies also accepted when signed with a key in
    SECRET_KEY_FALLBACKS (Flask-Login checks SECRET_KEY only): a key rotation keeps people signed
    in until the old key is removed. Such a cookie is signed again with the new key at once."""

    def _load_user_from_remember_cookie(self, cookie):
        if decode_cookie(cookie) is None:
            for key in current_app.config.get("SECRET_KEY_FALLBACKS") or ():
                payload = decode_cookie(cookie, key=key)
                if payload is not None:
                    cookie = encode_cookie(payload)
                    session["_remember"] = "set"  # Flask-Login writes the cookie again
                    break
        return super()._load_user_from_remember_cookie(cookie)


db = SQLAlchemy(model_class=Base)
migrate = LazyMigrate()
login_manager = LoginManager()
csrf = CSRFProtect()
mail = Mail()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
