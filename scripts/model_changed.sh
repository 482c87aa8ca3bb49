#!/usr/bin/env bash
# Release gate: did the packaged model change? Tag pushes and manual runs always release; a push to main
# releases only when dvc.lock records a different hash for artifacts/model than in the previous commit.
#   scripts/model_changed.sh [OLD_REV]     prints changed=true|false (also to $GITHUB_OUTPUT when set)
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:-HEAD~1}
model_hash() {  # the md5 recorded for artifacts/model (the package stage's output) in dvc.lock at a revision
  git show "$1:dvc.lock" 2>/dev/null \
    | awk '/path: artifacts\/model$/ {found = 1; next} found && /md5:/ {print $NF; exit}' || true
}
if [[ "${GITHUB_REF_TYPE:-}" == "tag" || "${GITHUB_EVENT_NAME:-}" == "workflow_dispatch" ]]; then
  changed=true
else
  new=$(model_hash HEAD); old=$(model_hash "$OLD")
  if [[ -n "$new" && "$new" != "$old" ]]; then changed=true; else changed=false; fi
  echo "artifacts/model in dvc.lock: ${old:-none} -> ${new:-none}"
fi
echo "changed=$changed"
if [[ -n "${GITHUB_OUTPUT:-}" ]]; then echo "changed=$changed" >>"$GITHUB_OUTPUT"; fi
