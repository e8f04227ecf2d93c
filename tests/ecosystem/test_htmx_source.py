"""htmx from its CDN with SRI, the committed fallback, and `HTMX_URL=local` (contract section 1)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

import config

pytestmark = pytest.mark.nodb

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "static" / "vendor"
CDN_ORIGIN = "https://cdn.jsdelivr.net"


def sri(path: Path) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


def test_the_integrity_hash_is_the_committed_files_own():
    local = VENDOR / f"htmx-{config.HTMX_VERSION}.min.js"
    assert local.is_file(), f"{local} must be committed (scripts/update_htmx.sh)"
    assert sri(local) == config.HTMX_INTEGRITY, (
        f"HTMX_INTEGRITY in config.py is not the sha384 of {local.name}: the CDN's file would be "
        "refused by every browser, or the fallback differs from it"
    )
    assert f"htmx.org@{config.HTMX_VERSION}/" in config.Config.HTMX_CDN_URL
    # The file says its own version, and its licence ships beside it.
    assert f'version:"{config.HTMX_VERSION}"' in local.read_text(encoding="utf-8")
    assert "Zero-Clause BSD" in (VENDOR / f"htmx-{config.HTMX_VERSION}.LICENSE").read_text()
    assert re.fullmatch(r"2\.\d+\.\d+", config.HTMX_VERSION), "htmx is pinned to one exact 2.x version"


def _script_tags(html: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>", html)


def test_pages_load_htmx_from_the_cdn_with_integrity_and_fall_back_by_themselves(app_factory):
    app = app_factory(HTMX_URL="")
    response = app.test_client().get("/login")
    html = response.get_data(as_text=True)
    tags = _script_tags(html)
    cdn = [t for t in tags if CDN_ORIGIN in t]
    assert len(cdn) == 1, tags
    assert f'src="{app.config["HTMX_CDN_URL"]}"' in cdn[0]
    assert f'integrity="{config.HTMX_INTEGRITY}"' in cdn[0] and 'crossorigin="anonymous"' in cdn[0]
    # The fallback comes right after it, and names the committed file with the same hash.
    fallback = tags[tags.index(cdn[0]) + 1]
    assert "/static/js/htmx-fallback.js" in fallback
    assert f'data-local-src="/static/vendor/htmx-{config.HTMX_VERSION}.min.js"' in fallback
    assert f'data-integrity="{config.HTMX_INTEGRITY}"' in fallback
    # No inline script anywhere: the CSP below has no 'unsafe-inline'.
    assert all(" src=" in t for t in tags), tags
    csp = dict(part.split(" ", 1) for part in response.headers["Content-Security-Policy"].split("; "))
    assert csp["script-src"] == f"'self' {CDN_ORIGIN}", "exactly the CDN's origin, nothing more"
    client = app.test_client()
    for path in (f"/static/vendor/htmx-{config.HTMX_VERSION}.min.js", "/static/js/htmx-fallback.js"):
        served = client.get(path)
        assert served.status_code == 200, path
        served.close()


def test_htmx_url_local_never_uses_the_cdn(app_factory):
    app = app_factory(HTMX_URL="local")
    response = app.test_client().get("/login")
    html = response.get_data(as_text=True)
    assert "cdn." not in html and "htmx-fallback" not in html
    assert f'<script src="/static/vendor/htmx-{config.HTMX_VERSION}.min.js" integrity=' in html
    assert "script-src 'self';" in response.headers["Content-Security-Policy"]


def test_a_mirror_url_is_allowed_alone_in_the_csp(app_factory):
    mirror = f"https://mirror.example.com/htmx-{config.HTMX_VERSION}.min.js"
    app = app_factory(HTMX_URL=mirror)
    response = app.test_client().get("/login")
    assert f'src="{mirror}" integrity="{config.HTMX_INTEGRITY}"' in response.get_data(as_text=True)
    assert "script-src 'self' https://mirror.example.com;" in response.headers["Content-Security-Policy"]
