#!/usr/bin/env bash
# Vendors the upload page's one JavaScript library, uPlot (the video timeline chart), from npm into the static
# files, so the page works offline and inside the container with no CDN. The version is pinned here only;
# re-run after changing it (npm checks the package's integrity against the registry) and commit the result.
set -euo pipefail
UPLOT_VERSION=1.6.32
dest="$(cd "$(dirname "$0")/.." && pwd)/src/deepfake_detector/serving/static/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$UPLOT_VERSION" >/dev/null && tar xzf "uplot-$UPLOT_VERSION.tgz")
mkdir -p "$dest"
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" "$dest/"
cp "$work/package/LICENSE" "$dest/uPlot.LICENSE"
echo "uplot@$UPLOT_VERSION (MIT, npm); vendored by scripts/vendor_js.sh" > "$dest/VERSIONS"
echo "vendored uplot@$UPLOT_VERSION into $dest"
