#!/usr/bin/env bash
# Smoke-test the service image: run it, wait for /healthz and /readyz, post one face image to /predict_image,
# check the JSON.
#   scripts/release_smoke.sh IMAGE:TAG [FACE_IMAGE]   (default image: the first data/demo/real/images/*.jpg)
#   SMOKE_URL=http://127.0.0.1:3000 scripts/release_smoke.sh - [FACE_IMAGE]   checks a service already running
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=$(echo "${1:?usage: release_smoke.sh IMAGE:TAG|- [FACE_IMAGE]}" | tr '[:upper:]' '[:lower:]')
FACES=(data/demo/real/images/*.jpg)
FACE=${2:-${FACES[0]}}
[[ -f "$FACE" ]] || { echo "no face image: $FACE (run dvc pull, or pass one)" >&2; exit 2; }
PORT=${SMOKE_PORT:-3000}
TIMEOUT=${SMOKE_TIMEOUT:-300}
NAME=deepfake-smoke-$$
URL=${SMOKE_URL:-}

if [[ -z "$URL" ]]; then
  URL="http://127.0.0.1:$PORT"
  docker run -d --rm --name "$NAME" -p "127.0.0.1:$PORT:3000" "$IMAGE" >/dev/null
  cleanup() { docker logs "$NAME" >smoke-container.log 2>&1 || true; docker stop "$NAME" >/dev/null 2>&1 || true; }
  trap cleanup EXIT
fi
alive() { [[ -n "${SMOKE_URL:-}" ]] || docker inspect "$NAME" >/dev/null 2>&1; }

deadline=$((SECONDS + TIMEOUT))
# /healthz answers once the server is up; /readyz once the model is loaded (__is_ready__).
for probe in healthz readyz; do
  echo "waiting for $URL/$probe (up to ${TIMEOUT}s in all)"
  until curl -fsS "$URL/$probe" >/dev/null 2>&1; do
    alive || { echo "the container exited" >&2; exit 1; }
    (( SECONDS < deadline )) || { echo "no answer from $URL/$probe after ${TIMEOUT}s" >&2; exit 1; }
    sleep 3
  done
done

echo "POST $FACE to $URL/predict_image"
RESPONSE=$(curl -fsS -F "image=@$FACE" "$URL/predict_image")
echo "$RESPONSE"
python3 - "$RESPONSE" <<'PY'
import json
import sys

body = json.loads(sys.argv[1])
assert body["media"] == "image", body
assert body["verdict"] in {"real", "fake", "cannot_judge"}, body
if body["verdict"] != "cannot_judge":
    assert 0.0 <= body["fake_probability"] <= 1.0, body
print(f"smoke test passed: verdict {body['verdict']}, model {body.get('model_version')}")
PY
