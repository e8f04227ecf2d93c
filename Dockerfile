# syntax=docker/dockerfile:1
# Export Automation: one image for the web app (gunicorn), the dedicated scheduler and the
# one-off commands (migrations, users). See docs/deploy.md, "Containers".

# --- the application
# htmx (static/vendor/) and the PDF font (dashboard/exports/fonts/) are committed: no Node stage.
# The one font package is the PDF's CJK fallback, WenQuanYi Zen Hei (GPL-2 with the font embedding
# exception: installed, not committed; dashboard/exports/fonts/README.md).
FROM python:3.11-slim-bookworm
ARG GIT_REVISION=""

# tini reaps children and passes SIGTERM on, so gunicorn's graceful stop hands exports back.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 fonts-wqy-zenhei=0.9.45-8 \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APP_ENV=production \
    FLASK_APP=app \
    INSTANCE_PATH=/var/lib/export-automation \
    GUNICORN_BIND=0.0.0.0:8000 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics \
    GIT_REVISION=${GIT_REVISION}

WORKDIR /app
COPY requirements.txt ./
# The lock: every package pinned with its hash (make lock).
RUN pip install --require-hashes -r requirements.txt

# The service user: owns nothing of the code, only its instance folder.
RUN groupadd --system --gid 10001 exports \
    && useradd --system --uid 10001 --gid exports --home-dir /var/lib/export-automation --shell /usr/sbin/nologin exports \
    && mkdir -p /var/lib/export-automation /tmp/metrics \
    && chown exports:exports /var/lib/export-automation /tmp/metrics

COPY --chown=root:root . .
# The code's bytecode, compiled once here: the service user cannot write __pycache__ (and
# PYTHONDONTWRITEBYTECODE is set), so without it every worker and every `flask` command would
# compile every module of the dashboard again before doing anything (issue 21, start-up).
RUN python -m compileall -q -j 0 app.py config.py dashboard migrations

USER 10001:10001
EXPOSE 8000

# Liveness only: a restart cures a stuck process, not a database outage (docs/operations.md).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "app:app"]
