#!/usr/bin/env bash
# Smoke-test the service image: run it, wait for /healthz, post one face image to /predict_image, check the JSON.
#   scripts/release_smoke.sh IMAGE:TAG [FACE_IMAGE]     (default image: the first data/demo/real/images/*.jpg)
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=$(echo "${1:?usage: release_smoke.sh IMAGE:TAG [FACE_IMAGE]}" | tr '[:upper:]' '[:lower:]')
FACE=${2:-$(ls data/demo/real/images/*.jpg | head -n1)}
PORT=${SMOKE_PORT:-3000}
TIMEOUT=${SMOKE_TIMEOUT:-300}
NAME=deepfake-smoke-$$

docker run -d --rm --name "$NAME" -p "127.0.0.1:$PORT:3000" "$IMAGE" >/dev/null
cleanup() { docker logs "$NAME" >smoke-container.log 2>&1 || true; docker stop "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "waiting for http://127.0.0.1:$PORT/healthz (up to ${TIMEOUT}s)"
deadline=$((SECONDS + TIMEOUT))
until curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; do
  if (( SECONDS > deadline )); then echo "service not healthy after ${TIMEOUT}s" >&2; docker logs "$NAME" >&2; exit 1; fi
  if ! docker inspect "$NAME" >/dev/null 2>&1; then echo "container exited" >&2; exit 1; fi
  sleep 3
done
# /healthz answers before the model is loaded; /readyz waits for __is_ready__.
until curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do
  if (( SECONDS > deadline )); then echo "service not ready after ${TIMEOUT}s" >&2; exit 1; fi
  sleep 3
done

echo "POST $FACE to /predict_image"
RESPONSE=$(curl -fsS -F "image=@$FACE" "http://127.0.0.1:$PORT/predict_image")
echo "$RESPONSE"
python3 - "$RESPONSE" <<'PY'
import json, sys
body = json.loads(sys.argv[1])
assert body["media"] == "image", body
assert body["verdict"] in {"real", "fake", "no_face"}, body
if body["verdict"] != "no_face":
    assert 0.0 <= body["fake_probability"] <= 1.0, body
print(f"smoke test passed: verdict {body['verdict']}, model {body.get('model_version')}")
PY
