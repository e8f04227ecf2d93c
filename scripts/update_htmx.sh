#!/usr/bin/env bash
# Upgrade the committed htmx (maintainers only; running the app never needs npm or node):
#   bash scripts/update_htmx.sh 2.0.12
# fetches the release from the npm registry once (`npm pack`), copies its dist/htmx.min.js and
# LICENSE into static/vendor/, and sets HTMX_VERSION and HTMX_INTEGRITY (sha384 of those bytes) in
# config.py. Then: delete the old static/vendor/htmx-<old>.* files, run the tests
# (tests/web/test_htmx_source.py checks the hash), and commit.
set -euo pipefail
cd "$(dirname "$0")/.."
version="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "htmx.org@${version}" >/dev/null)
tar -xzf "$tmp"/htmx.org-"${version}".tgz -C "$tmp"
mkdir -p static/vendor
cp "$tmp/package/dist/htmx.min.js" "static/vendor/htmx-${version}.min.js"
cp "$tmp/package/LICENSE" "static/vendor/htmx-${version}.LICENSE"
integrity="sha384-$(openssl dgst -sha384 -binary "static/vendor/htmx-${version}.min.js" | base64 -w0)"
sed -i -e "s|^HTMX_VERSION = .*|HTMX_VERSION = \"${version}\"|" \
  -e "s|^HTMX_INTEGRITY = .*|HTMX_INTEGRITY = \"${integrity}\"|" config.py
echo "htmx ${version} in static/vendor/, integrity ${integrity} (config.py updated)"
