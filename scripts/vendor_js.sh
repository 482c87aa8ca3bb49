#!/usr/bin/env bash
# Vendors the upload page's JavaScript libraries from npm into the static files, so the page works offline and
# inside the container with no CDN: uPlot (the video timeline chart) and ONNX Runtime Web's WebAssembly backend
# (the in-browser check, static/local.js). Versions are pinned here only; re-run after changing one (npm checks
# each package's integrity against the registry) and commit the result.
set -euo pipefail
UPLOT_VERSION=1.6.32
ORT_VERSION=1.31.1
dest="$(cd "$(dirname "$0")/.." && pwd)/src/deepfake_detector/serving/static/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unpack() {  # unpack NAME VERSION: the npm package into $work/NAME
  (cd "$work" && npm pack --silent "$1@$2" >/dev/null && mkdir "$1" && tar xzf "$1-$2.tgz" -C "$1")
}
unpack uplot "$UPLOT_VERSION"
unpack onnxruntime-web "$ORT_VERSION"
mkdir -p "$dest"
cp "$work/uplot/package/dist/uPlot.iife.min.js" "$work/uplot/package/dist/uPlot.min.css" "$dest/"
cp "$work/uplot/package/LICENSE" "$dest/uPlot.LICENSE"
# The WASM-only build (no WebGL/WebGPU) and its one runtime: single-threaded it needs no cross-origin isolation.
ort="$work/onnxruntime-web/package/dist"
cp "$ort/ort.wasm.min.js" "$ort/ort-wasm-simd-threaded.mjs" "$ort/ort-wasm-simd-threaded.wasm" "$dest/"
# The npm package ships no LICENSE file; its package.json says MIT. This is onnxruntime's MIT licence text.
cat > "$dest/onnxruntime-web.LICENSE" <<'LICENCE'
MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
LICENCE
cat > "$dest/VERSIONS" <<VERSIONS
uplot@$UPLOT_VERSION (MIT, npm); vendored by scripts/vendor_js.sh
onnxruntime-web@$ORT_VERSION (MIT, npm): ort.wasm.min.js, ort-wasm-simd-threaded.mjs/.wasm; vendored by scripts/vendor_js.sh
VERSIONS
echo "vendored uplot@$UPLOT_VERSION and onnxruntime-web@$ORT_VERSION into $dest"
