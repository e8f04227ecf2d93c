#!/usr/bin/env bash
# Install the pinned htmx build into static/vendor/ from the npm registry (no CDN at run time).
set -euo pipefail
version="$1"
target="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "htmx.org@${version}" >/dev/null)
tar -xzf "$tmp"/htmx.org-"${version}".tgz -C "$tmp"
mkdir -p "$(dirname "$target")"
cp "$tmp/package/dist/htmx.min.js" "$target"
echo "Installed htmx ${version} into ${target}"
