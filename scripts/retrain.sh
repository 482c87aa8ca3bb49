#!/usr/bin/env bash
# Retrain and prepare a commit for review: dvc pull -> dvc exp run [-S overrides] -> dvc push -> branch + commit.
#
#   scripts/retrain.sh                                   # rebuild whatever changed (data.dvc, params, code)
#   scripts/retrain.sh train.epochs=12 train.lr=0.0005   # with parameter overrides (written to params.yaml)
#   RETRAIN_FORCE=1 scripts/retrain.sh                   # rerun every stage even if nothing changed
#
# Environment: RETRAIN_BRANCH (default retrain/<UTC timestamp>), DVC_PUSH=0 to skip the push (when the
# default remote is not shared, e.g. the in-repo demo remote in CI), RETRAIN_REPORT_DIR (default
# reports/retrain). Writes the branch name to $GITHUB_OUTPUT (branch=..., changed=true|false) when set.
# Opening the PR is a separate step: scripts/open_pr.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

BRANCH=${RETRAIN_BRANCH:-retrain/$(date -u +%Y%m%d-%H%M%S)}
REPORT_DIR=${RETRAIN_REPORT_DIR:-reports/retrain}
BASE=$(git rev-parse --short HEAD)
export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-$(git config user.name || echo "github-actions[bot]")}
export GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-$(git config user.email || echo "41898282+github-actions[bot]@users.noreply.github.com")}
export GIT_COMMITTER_NAME=${GIT_COMMITTER_NAME:-$GIT_AUTHOR_NAME} GIT_COMMITTER_EMAIL=${GIT_COMMITTER_EMAIL:-$GIT_AUTHOR_EMAIL}

output() { if [[ -n "${GITHUB_OUTPUT:-}" ]]; then echo "$1" >>"$GITHUB_OUTPUT"; fi; }

# Overrides arrive as one string from CI ("a=1 b=2") or as separate arguments.
read -r -a OVERRIDES <<<"$*"
SET_ARGS=()
for override in "${OVERRIDES[@]}"; do SET_ARGS+=(-S "$override"); done

echo "== dvc pull"
dvc pull --allow-missing
echo "== dvc exp run ${SET_ARGS[*]:-}"
FORCE=()
if [[ "${RETRAIN_FORCE:-0}" == "1" ]]; then FORCE=(--force); fi
# Without --temp/--queue the experiment runs in the workspace, so params.yaml, dvc.lock and metrics change here.
dvc exp run ${FORCE[@]+"${FORCE[@]}"} ${SET_ARGS[@]+"${SET_ARGS[@]}"}

if [[ "${DVC_PUSH:-1}" == "1" ]]; then
  echo "== dvc push"
  dvc push
else
  echo "== dvc push skipped (DVC_PUSH=${DVC_PUSH})"
fi

git add -A -- dvc.lock params.yaml artifacts
if git diff --cached --quiet; then
  echo "nothing changed: no retrain commit"
  output "changed=false"
  exit 0
fi
echo "== report against $BASE"
python scripts/metrics_report.py --base "$BASE" --out "$REPORT_DIR"
git checkout -q -b "$BRANCH"
git add -A -- dvc.lock params.yaml artifacts "$REPORT_DIR"
SUMMARY=${*:-no parameter overrides}
git commit -q -m "Retrain: ${SUMMARY}" -m "Automated by scripts/retrain.sh from $(git rev-parse --short "$BASE"). See $REPORT_DIR/report.md."
echo "committed $(git rev-parse --short HEAD) on $BRANCH"
output "changed=true"
output "branch=$BRANCH"
