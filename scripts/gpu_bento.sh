#!/usr/bin/env bash
# Build the GPU Bento (deepfake_detector_gpu) in the store the package stage filled (artifacts/bentoml):
# scripts/gpu_bentofile.py writes its bentofile from bentofile.yaml, then bentoml build. Run after
# `dvc repro package`; then FLAVOUR=gpu scripts/release_image.sh build IMAGE containerizes it.
set -euo pipefail
cd "$(dirname "$0")/.."
python scripts/gpu_bentofile.py build/bentofile.gpu.yaml
BENTOML_HOME="${BENTOML_HOME:-$PWD/artifacts/bentoml}" bentoml build -f build/bentofile.gpu.yaml .
