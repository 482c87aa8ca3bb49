#!/usr/bin/env bash
# Switch the pipeline to a params profile (profiles/<name>.yaml) without touching code:
#   scripts/use_profile.sh real && dvc exp run -n real-data
# `git checkout params.yaml && dvc checkout` returns to the demo profile (its outputs come back from the cache).
set -euo pipefail
name="${1:?usage: scripts/use_profile.sh <profile name, e.g. real>}"
profile="profiles/${name}.yaml"
[ -f "$profile" ] || { echo "no $profile; profiles: $(ls profiles | sed 's/\.yaml//' | tr '\n' ' ')" >&2; exit 2; }
cp "$profile" params.yaml
echo "params.yaml is now the '$name' profile; run: dvc exp run -n ${name}-data (or dvc repro)"
