#!/usr/bin/env bash
# Switch the pipeline to a params profile without touching code: profiles/<name>.yaml holds only the keys
# that differ from params.yaml, merged on top of it (config.profile_params, the merge baselines use too):
#   scripts/use_profile.sh real && dvc exp run -n real-data
# `git checkout params.yaml` returns to the demo (then `dvc checkout` brings its outputs back from the cache).
set -euo pipefail
name="${1:?usage: scripts/use_profile.sh <profile name: real or ffpp>}"
python - "$name" <<'PY'
import sys

import yaml

from deepfake_detector.config import ConfigError, profile_params

try:
    params = profile_params(sys.argv[1])
except ConfigError as err:
    sys.exit(str(err))
header = f"# params.yaml + profiles/{sys.argv[1]}.yaml (scripts/use_profile.sh); `git checkout params.yaml` undoes it\n"
with open("params.yaml", "w") as f:
    f.write(header + yaml.safe_dump(params, sort_keys=False, width=120))
PY
echo "params.yaml is now the '$name' profile; run: dvc exp run -n ${name}-data (or dvc repro)"
