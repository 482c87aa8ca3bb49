#!/usr/bin/env bash
# After `make demo` on a fresh clone: every committed result (dvc.lock's hashes, metrics, plots, reports) must
# be what the run produced, so the tree is clean. Prints what differs otherwise (CI: the `reproduce` job).
set -euo pipefail
export PATH="$(git rev-parse --show-toplevel)/.venv/bin:$PATH"  # dvc, as `make demo` installed it
changed="$(git status --porcelain --untracked-files=no)"
if [[ -z "$changed" ]]; then
  echo "reproduced: make demo left every committed file unchanged (dvc.lock, artifacts, reports)"
  exit 0
fi
echo "NOT reproduced: make demo changed committed files:" >&2
echo "$changed" >&2
git --no-pager diff --stat >&2
git --no-pager diff -- dvc.lock | head -80 >&2
dvc status >&2 || true
exit 1
