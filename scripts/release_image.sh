#!/usr/bin/env bash
# Build the service image from the packaged Bento, or push it.
#   scripts/release_image.sh build IMAGE [TAG...]   bentoml containerize deepfake_detector:latest as IMAGE:TAG each
#   scripts/release_image.sh push  IMAGE [TAG...]   docker push IMAGE:TAG each (after docker login)
#   scripts/release_image.sh tags  IMAGE            print the default tags, first one is the smoke-test tag
# Default tags (GitHub Actions): sha-<commit>, the branch or tag name, and `latest` for a v* tag (a GTO tag
# deepfake-detector@v1.2.0 counts as v1.2.0).
# FLAVOUR=gpu: the GPU Bento (deepfake_detector_gpu, from scripts/gpu_bentofile.py), every tag suffixed -gpu.
# The Bento comes from the project's BentoML store (artifacts/bentoml, written by `dvc repro package`).
# IMAGE is lower-cased (ghcr.io refuses upper case): ghcr.io/Owner/Repo -> ghcr.io/owner/repo.
set -euo pipefail
cd "$(dirname "$0")/.."
ACTION=${1:?usage: release_image.sh build|push|tags IMAGE [TAG...]}
IMAGE=$(echo "${2:?IMAGE missing}" | tr '[:upper:]' '[:lower:]')
shift 2
TAGS=("$@")
BENTO=deepfake_detector
if [[ "${FLAVOUR:-cpu}" == gpu ]]; then BENTO=deepfake_detector_gpu; fi
if (( ${#TAGS[@]} == 0 )); then
  SHA=${GITHUB_SHA:-$(git rev-parse HEAD)}
  TAGS=("sha-${SHA:0:12}")
  REF=${GITHUB_REF_NAME:-$(git rev-parse --abbrev-ref HEAD)}
  REF=${REF#deepfake-detector@}  # GTO registration tags: deepfake-detector@v1.2.0 -> v1.2.0
  REF=${REF//[^A-Za-z0-9_.-]/-}   # a valid image tag
  if [[ -n "$REF" && "$REF" != HEAD ]]; then TAGS+=("$REF"); fi
  if [[ "${GITHUB_REF_TYPE:-}" == "tag" && "$REF" == v* ]]; then TAGS+=(latest); fi
  if [[ "${FLAVOUR:-cpu}" == gpu ]]; then TAGS=("${TAGS[@]/%/-gpu}"); fi
fi
case "$ACTION" in
  build)
    TAG_ARGS=()
    for tag in "${TAGS[@]}"; do TAG_ARGS+=(-t "$IMAGE:$tag"); done
    BENTOML_HOME="$PWD/artifacts/bentoml" bentoml containerize "$BENTO:latest" "${TAG_ARGS[@]}"
    ;;
  push)
    for tag in "${TAGS[@]}"; do docker push "$IMAGE:$tag"; done
    ;;
  tags)
    printf '%s\n' "${TAGS[@]}"
    ;;
  *) echo "unknown action $ACTION (build|push|tags)" >&2; exit 2 ;;
esac
