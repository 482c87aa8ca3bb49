#!/usr/bin/env bash
# Point DVC at the team remote when CI has one (secret DVC_REMOTE_URL, e.g. s3://bucket/deepfake), else keep
# the in-repo demo remote. Credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# ...), never from a file in the repo. The change goes to .dvc/config.local, which git ignores.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${DVC_REMOTE_URL:-}" ]]; then
  dvc remote add --local --force --default team "$DVC_REMOTE_URL"
  echo "DVC remote: team (from DVC_REMOTE_URL)"
else
  echo "DVC remote: $(dvc remote default) (no DVC_REMOTE_URL set)"
fi
