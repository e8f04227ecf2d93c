"""Where pages load htmx from: its CDN (with SRI) and the committed copy in static/vendor/.

Contract section 1: one pinned 2.x version from its CDN with `integrity` and `crossorigin`, the CSP
allowing exactly that origin; when the CDN cannot be reached the page loads the same file from
`static/vendor/` by itself (static/js/htmx-fallback.js); `HTMX_URL=local` never uses the CDN.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask

LOCAL = "local"


@dataclass(frozen=True)
class HtmxSource:
    cdn_url: str | None  # None: the local file only
    integrity: str
    local_file: str  # under static/

    @property
    def cdn_origin(self) -> str | None:
        if not self.cdn_url:
            return None
        parts = urlsplit(self.cdn_url)
        return f"{parts.scheme}://{parts.netloc}"


def local_file(version: str) -> str:
    return f"vendor/htmx-{version}.min.js"


def htmx_source(app: Flask) -> HtmxSource:
    config = app.config
    setting = (config.get("HTMX_URL") or "").strip()
    cdn_url: str | None = config["HTMX_CDN_URL"]
    if setting.lower() == LOCAL:
        cdn_url = None
    elif setting:
        cdn_url = setting  # a mirror of the same file: the same integrity hash applies
    return HtmxSource(
        cdn_url=cdn_url, integrity=config["HTMX_INTEGRITY"], local_file=local_file(config["HTMX_VERSION"])
    )
