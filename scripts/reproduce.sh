#!/usr/bin/env bash
# Fetch the data (and any cached outputs) from the default DVC remote, then rebuild what changed.
#   scripts/reproduce.sh [dvc repro args...]     e.g. scripts/reproduce.sh package
set -euo pipefail
cd "$(dirname "$0")/.."
dvc pull --allow-missing
dvc repro "$@"
