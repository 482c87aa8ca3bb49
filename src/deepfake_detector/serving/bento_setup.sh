#!/usr/bin/env bash
# Runs inside the Bento's image after its Python packages are installed (bentofile.yaml docker.setup_script).
# facenet-pytorch's metadata pins torch<2.3 and numpy<2; it works with the pinned newer versions, so skip its deps.
set -euxo pipefail
if command -v uv > /dev/null 2>&1; then
    uv pip install --no-deps facenet-pytorch==2.6.0
else
    pip3 install --no-deps facenet-pytorch==2.6.0
fi
