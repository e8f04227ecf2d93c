"""Configuration classes, read from the environment with the contract's defaults."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def load_dotenv_file() -> None:
    """Read `.env` beside this file (git-ignored; see .env.example) into the environment before any
    setting below is read. The real environment wins over it. Flask's CLI reads `.flaskenv` and
    `.env` itself; gunicorn and `app.py` rely on this. FLASK_SKIP_DOTENV=1 (tests) skips it."""
    env_file = BASE_DIR / ".env"
    if (
        os.environ.get("FLASK_SKIP_DOTENV", "").lower() not in ("", "0", "false", "no")
        or not env_file.is_file()
    ):
        return
    from dotenv import load_dotenv

    load_dotenv(env_file, override=False)


load_dotenv_file()
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))
DEV_SECRET_KEY = "dev-not-secret-change-me"
HTMX_VERSION = "2.0.11"
HTMX_INTEGRITY = "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(name: str) -> list[str]:
    """A comma-separated variable as a list, blanks dropped."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


class Config:
    # An empty SECRET_KEY= line in .env (as .env.example has it for compose) means unset.
    SECRET_KEY = os.environ.get("SECRET_KEY") or DEV_SECRET_KEY
    # Old keys, still accepted (never used to sign) while a rotation settles: sessions, remember-me
    # cookies and download links signed with them keep working until they are removed from here.
    SECRET_KEY_FALLBACKS = _list("SECRET_KEY_FALLBACKS")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'dashboard.sqlite3'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # PostgreSQL connection pool, per process (each gunicorn worker has its own): requests, the export
    # threads (EXPORT_WORKERS) and the scheduler's jobs draw from it. See docs/deploy.md for sizing.
    DB_POOL_SIZE = _int("DB_POOL_SIZE", 5)
    DB_MAX_OVERFLOW = _int("DB_MAX_OVERFLOW", 10)
    DB_POOL_TIMEOUT = _int("DB_POOL_TIMEOUT", 30)
    DB_POOL_RECYCLE = _int("DB_POOL_RECYCLE", 1800)
    # Seconds to wait for a new PostgreSQL connection: a dead server answers /healthz quickly.
    DB_CONNECT_TIMEOUT = _int("DB_CONNECT_TIMEOUT", 10)
    # psycopg prepares a statement once a connection has run it this many times, and PostgreSQL
    # plans it no more (dashboard/read_only_requests.py). 0: never (PgBouncer in transaction mode
    # before 1.21, or without max_prepared_statements).
    DB_PREPARE_THRESHOLD = _int("DB_PREPARE_THRESHOLD", 5)
    # Links in e-mails; unset: the served host and port (dashboard/base_url.py), with a warning in
    # production.
    BASE_URL = os.environ.get("BASE_URL", "").rstrip("/")

    # Storage
    STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "local")
    EXPORT_ROOT = os.environ.get("EXPORT_ROOT", str(INSTANCE_DIR / "exports"))
    S3_BUCKET = os.environ.get("S3_BUCKET", "")
    S3_PREFIX = os.environ.get("S3_PREFIX", "")
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or None

    # Mail: with no MAIL_SERVER, mail is written as .eml files to the outbox folder.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "exports@example.com")
    MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT", 30))
    MAIL_MAX_ATTACHMENT_MB = float(os.environ.get("MAIL_MAX_ATTACHMENT_MB", 10))
    MAIL_OUTBOX_DIR = os.environ.get("MAIL_OUTBOX_DIR", str(INSTANCE_DIR / "outbox"))
    MAIL_SUPPRESS_SEND = not bool(os.environ.get("MAIL_SERVER"))
    # Outbox retries (dashboard/delivery/outbox.py): base x 2^(n-1), capped; given up after hours.
    MAIL_RETRY_BASE_SECONDS = float(os.environ.get("MAIL_RETRY_BASE_SECONDS", 60))
    MAIL_RETRY_MAX_SECONDS = float(os.environ.get("MAIL_RETRY_MAX_SECONDS", 3600))
    MAIL_GIVE_UP_HOURS = float(os.environ.get("MAIL_GIVE_UP_HOURS", 48))
    # Unset: max(600, 10 x MAIL_TIMEOUT), computed by the delivery code.
    MAIL_SENDING_LEASE_SECONDS = (
        float(os.environ["MAIL_SENDING_LEASE_SECONDS"])
        if os.environ.get("MAIL_SENDING_LEASE_SECONDS")
        else None
    )
    # Messages one business may send in any rolling 24 h, counted per recipient; over it mail is
    # held and sent later (dashboard/delivery/quota.py). 200: a schedule at MAX_RECIPIENTS (50)
    # four times a day, or a dozen ordinary daily schedules with notices, and no use as a relay.
    # 0 turns the limit off.
    MAIL_DAILY_LIMIT_PER_BUSINESS = _int("MAIL_DAILY_LIMIT_PER_BUSINESS", 200)

    # Destinations besides e-mail (dashboard/destinations/, docs/operations.md "Destinations").
    # Fernet keys that encrypt destination secrets, comma-separated, newest first: the first one
    # encrypts, all of them decrypt (rotation: put a new key first, run `flask destinations
    # rotate-secrets`, then drop the old key). Unset: one key derived from SECRET_KEY.
    DESTINATIONS_SECRET_KEYS = _list("DESTINATIONS_SECRET_KEYS")
    # 1 lets destinations reach loopback and private addresses over http or https (development,
    # tests); 0: only https to public addresses, checked after DNS resolution and at connect time.
    DESTINATIONS_ALLOW_PRIVATE = _bool("DESTINATIONS_ALLOW_PRIVATE", False)
    # Seconds a destination may take to connect, and to answer each read.
    DESTINATIONS_TIMEOUT_SECONDS = float(os.environ.get("DESTINATIONS_TIMEOUT_SECONDS", 10))
    # Attempts before a destination's delivery is given up; retries wait as mail's do
    # (MAIL_RETRY_BASE_SECONDS x 2^(n-1), capped at MAIL_RETRY_MAX_SECONDS).
    DESTINATIONS_MAX_ATTEMPTS = _int("DESTINATIONS_MAX_ATTEMPTS", 6)

    # Automation
    SCHEDULER_ENABLED = _bool("SCHEDULER_ENABLED", True)
    SCHEDULER_POLL_SECONDS = _int("SCHEDULER_POLL_SECONDS", 60)
    # How often the retry job looks for failed runs; unset: max(SCHEDULER_POLL_SECONDS, 60).
    SCHEDULER_RETRY_SECONDS = float(os.environ.get("SCHEDULER_RETRY_SECONDS") or 0) or None
    # "app": create_app() starts the scheduler; "postfork": gunicorn.conf.py starts it in each worker
    # after the fork (set by gunicorn.conf.py itself, so that --preload never starts it in the arbiter).
    SCHEDULER_START = os.environ.get("SCHEDULER_START", "app")
    EXPORT_RETENTION_DAYS = _int("EXPORT_RETENTION_DAYS", 30)
    EXPORT_WORKERS = _int("EXPORT_WORKERS", 2)
    EXPORT_STALE_SECONDS = _int("EXPORT_STALE_SECONDS", 1800)
    EXPORT_MAX_RETRIES = _int("EXPORT_MAX_RETRIES", 3)
    EXPORT_RETRY_BASE_SECONDS = _int("EXPORT_RETRY_BASE_SECONDS", 300)
    EXPORT_SYNC = _bool("EXPORT_SYNC", False)  # run exports inline (tests, CLI)
    # Sharing the workers between businesses (dashboard/automation/fairness.py, docs/deploy.md):
    # runs of one business PROCESSING at once across every process and host (1: on the default 2
    # workers a business's bulk work never holds both, so another business's export starts at
    # once), and PENDING runs people or the API may queue per business (over it: 429). 0 = no cap.
    EXPORT_MAX_CONCURRENT_PER_BUSINESS = _int("EXPORT_MAX_CONCURRENT_PER_BUSINESS", 1)
    EXPORT_MAX_QUEUED_PER_BUSINESS = _int("EXPORT_MAX_QUEUED_PER_BUSINESS", 20)
    # Where a run writes its file before storing it (default: the system's temporary folder).
    EXPORT_WORK_DIR = os.environ.get("EXPORT_WORK_DIR") or None
    PDF_MAX_ROWS = _int("PDF_MAX_ROWS", 50_000)  # bench_exports: 50k rows ~8,000 rows/s, 156 MB peak
    # A folder holding DejaVuSans.ttf and DejaVuSans-Bold.ttf; unset: the copy shipped in
    # dashboard/exports/fonts/ (then Debian's /usr/share/fonts/truetype/dejavu).
    PDF_FONT_DIR = os.environ.get("PDF_FONT_DIR", "")
    DOWNLOAD_LINK_TTL_DAYS = _int("DOWNLOAD_LINK_TTL_DAYS", 7)
    # How long an invitation link (People page, /api/business/members/) lets its person join.
    INVITATION_DAYS = _int("INVITATION_DAYS", 7)
    # How long a worker may reuse a business's statistics while its history counts stay the same
    # (services/statistics.py); 0 computes them on every request.
    STATISTICS_CACHE_SECONDS = _int("STATISTICS_CACHE_SECONDS", 30)
    MAX_RECIPIENTS = _int("MAX_RECIPIENTS", 50)
    API_MAX_BODY_KB = _int("API_MAX_BODY_KB", 256)
    # Every other request (pages, forms, the sign-in): no form here is near 1 MB, and without a cap
    # Werkzeug spooled any multipart upload to disk, whatever its size, before CSRF refused it.
    # The API sets its own per-request limit (API_MAX_BODY_KB) in its blueprint.
    MAX_CONTENT_LENGTH = 1024 * 1024

    # Web
    # htmx: one pinned version, from its CDN with this SRI hash (of the file committed in
    # static/vendor/, which the page loads by itself when the CDN cannot be reached). HTMX_URL:
    # empty = that CDN URL; "local" = static/vendor/ only (air-gapped installs, tests); another
    # URL = a mirror of the same file (same integrity). scripts/update_htmx.sh upgrades all three.
    HTMX_VERSION = HTMX_VERSION
    HTMX_CDN_URL = f"https://cdn.jsdelivr.net/npm/htmx.org@{HTMX_VERSION}/dist/htmx.min.js"
    HTMX_INTEGRITY = HTMX_INTEGRITY
    HTMX_URL = os.environ.get("HTMX_URL", "")
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = BASE_URL.startswith("https://")
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # How long "keep me signed in" lasts, and the longest any sign-in lasts: checked on the server
    # against the sign-in time in the session (dashboard/auth/sessions.py), not only by the cookie.
    REMEMBER_COOKIE_DAYS = float(os.environ.get("REMEMBER_COOKIE_DAYS", 14))

    # Proxies in front of gunicorn that append X-Forwarded-For / X-Forwarded-Proto (nginx, a load
    # balancer: 1). Without it every client seems to come from the proxy's address, and the per-IP
    # rate limits would lump all users together.
    TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)

    # Rate limits (Flask-Limiter); use redis:// under gunicorn so limits hold across workers.
    REDIS_URL = os.environ.get("REDIS_URL", "")
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # Keeps the counters of deployments that share one Redis (staging, production) apart.
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "")
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    RATELIMIT_HEADERS_ENABLED = True
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "300 per minute")
    # Sign-in throttling (dashboard/auth/throttle.py): failed sign-ins per (account, address) before
    # that pair is refused; per account (all addresses) and per address (all accounts) before every
    # attempt is slowed by LOGIN_SLOWDOWN_SECONDS, never refused: a stranger cannot lock a person out,
    # and one office address does not lock out everyone behind it.
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per 5 minutes")
    LOGIN_ACCOUNT_RATE_LIMIT = os.environ.get("LOGIN_ACCOUNT_RATE_LIMIT", "30 per 5 minutes")
    LOGIN_ADDRESS_RATE_LIMIT = os.environ.get("LOGIN_ADDRESS_RATE_LIMIT", "100 per 5 minutes")
    LOGIN_SLOWDOWN_SECONDS = float(os.environ.get("LOGIN_SLOWDOWN_SECONDS", 2))
    # Dashboard buttons that start a run or send mail (run now, send a test, rerun, export now):
    # per signed-in user, and per business across all its users (dashboard/web/limits.py).
    DASHBOARD_RUN_RATE_LIMIT = os.environ.get("DASHBOARD_RUN_RATE_LIMIT", "10 per minute")
    DASHBOARD_RUN_RATE_LIMIT_PER_BUSINESS = os.environ.get(
        "DASHBOARD_RUN_RATE_LIMIT_PER_BUSINESS", "30 per minute"
    )

    # Logs: "text" for people, "json" or "keyvalue" for log collectors (dashboard/logging_setup.py).
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

    # Operations (docs/operations.md). OPS_TOKEN: the operator's token for /metrics and for the
    # details of /healthz, /readyz and /api/version (`Authorization: Bearer ...`); unset, nobody sees them.
    OPS_TOKEN = os.environ.get("OPS_TOKEN", "")
    # Seconds each /readyz dependency probe may take, and how long this process reuses an SMTP
    # answer (a load balancer polling every few seconds must not open an SMTP session each time).
    READYZ_PROBE_TIMEOUT = float(os.environ.get("READYZ_PROBE_TIMEOUT", 3))
    READYZ_SMTP_CACHE_SECONDS = float(os.environ.get("READYZ_SMTP_CACHE_SECONDS", 30))
    # Retention applied by the cleanup job, in days; 0 keeps rows forever. Runs (and their mail
    # rows) older than HISTORY_RETENTION_DAYS, sent or given-up mail older than MAIL_RETENTION_DAYS,
    # audit entries older than AUDIT_RETENTION_DAYS are deleted.
    HISTORY_RETENTION_DAYS = _int("HISTORY_RETENTION_DAYS", 0)
    # Runs whose API record and /history row each process keeps, by the run's whole content (a run
    # that changes is worked out again; dashboard/core/content_cache.py): about 10 KB a run. 0: none.
    HISTORY_CACHE_ROWS = _int("HISTORY_CACHE_ROWS", 1000)
    # /history pages each process keeps whole, by everything they show (a page whose runs, pager,
    # filters or frame changed is rendered again; dashboard/web/kept_pages.py): about 40 KB a page.
    HISTORY_CACHE_PAGES = _int("HISTORY_CACHE_PAGES", 200)
    MAIL_RETENTION_DAYS = _int("MAIL_RETENTION_DAYS", 0)
    AUDIT_RETENTION_DAYS = _int("AUDIT_RETENTION_DAYS", 0)

    TESTING = False
    ENV_NAME = "development"


class DevelopmentConfig(Config):
    ENV_NAME = "development"


class ProductionConfig(Config):
    ENV_NAME = "production"
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
    PREFERRED_URL_SCHEME = "https" if Config.BASE_URL.startswith("https://") else "http"
    # Every worker on every host must count against the same limits: Redis when it is configured
    # (RATELIMIT_STORAGE_URI, else REDIS_URL). A Redis outage must not take the site down with it:
    # Flask-Limiter then counts in memory per process until Redis answers again.
    RATELIMIT_STORAGE_URI = (
        os.environ.get("RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL") or "memory://"
    )
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 2}


class TestConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    WTF_CSRF_ENABLED = False
    SCHEDULER_ENABLED = False
    EXPORT_SYNC = True
    MAIL_SUPPRESS_SEND = True
    RATELIMIT_ENABLED = False
    BASE_URL = "http://localhost"
    STATISTICS_CACHE_SECONDS = 0
    HTMX_URL = "local"  # no internet in tests: the committed file (browser tests opt into the CDN)


def config_for_environment() -> type[Config]:
    name = os.environ.get("APP_ENV", os.environ.get("FLASK_ENV", "development")).lower()
    return {"production": ProductionConfig, "testing": TestConfig}.get(name, DevelopmentConfig)
