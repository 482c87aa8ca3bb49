#!/usr/bin/env bash
# Switch the pipeline to a params profile without touching code: profiles/<name>.yaml holds only the keys
# that differ from params.yaml, merged on top of it (profiles.profile_params, the merge baselines use too):
#   scripts/use_profile.sh real && dvc exp run -n real-data
#   scripts/use_profile.sh --reset
# returns to the committed params and results (params.yaml, dvc.lock, the metrics and plots in git, then the
# DVC outputs from the cache); an experiment run meanwhile stays in `dvc exp show` (`dvc exp apply` brings it back).
set -euo pipefail
name="${1:?usage: scripts/use_profile.sh <profile name: real, ffpp or all> | --reset [--force]}"
if [[ "$name" == "--reset" ]]; then
  # a params.yaml this script did not write holds the user's own edits: keep them unless asked
  if ! git diff --quiet HEAD -- params.yaml && ! head -1 params.yaml | grep -q "(scripts/use_profile.sh)" \
      && [[ "${2:-}" != "--force" ]]; then
    echo "params.yaml has edits of your own (it is not a profile this script wrote); --reset would discard them." >&2
    echo "Save them (git stash, or dvc exp run to keep the run), or: scripts/use_profile.sh --reset --force" >&2
    exit 1
  fi
  changed=$(git status --porcelain -- params.yaml dvc.lock artifacts)
  [[ -n "$changed" ]] && printf 'discarding local changes to:\n%s\n' "$changed"
  git checkout HEAD -- params.yaml dvc.lock artifacts
  dvc checkout --quiet
  echo "params.yaml, dvc.lock and the outputs are the committed ones again"
  exit 0
fi
python - "$name" <<'PY'
import sys

import yaml

from deepfake_detector.config import ConfigError
from deepfake_detector.profiles import profile_params

try:
    params = profile_params(sys.argv[1])
except ConfigError as err:
    sys.exit(str(err))
header = f"# params.yaml + profiles/{sys.argv[1]}.yaml (scripts/use_profile.sh); `scripts/use_profile.sh --reset` undoes it\n"
with open("params.yaml", "w") as f:
    f.write(header + yaml.safe_dump(params, sort_keys=False, width=120))
PY
# DVC checks data.dvc (the demo corpus) before any stage, even when a profile reads other data: a fresh clone
# would stop at "missing data 'source': data"
if [[ ! -d data ]]; then
  dvc pull --quiet data.dvc
fi
echo "params.yaml is now the '$name' profile; run: dvc exp run -n ${name}-data (or dvc repro)"
