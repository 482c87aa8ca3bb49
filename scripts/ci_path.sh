#!/usr/bin/env bash
# GitHub Actions: put the project venv (made by `make venv`) first on PATH for the following steps.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "$PWD/.venv/bin" >>"${GITHUB_PATH:?only meaningful in GitHub Actions}"
