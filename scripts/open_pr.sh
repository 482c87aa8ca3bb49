#!/usr/bin/env bash
# Push the retrain branch and open a PR with the metrics report as its body.
#   scripts/open_pr.sh BRANCH [BASE]            # needs GH_TOKEN (a PAT or App token, so CI runs on the PR)
#   scripts/open_pr.sh --dry-run BRANCH [BASE]  # prints the commands instead
set -euo pipefail
cd "$(dirname "$0")/.."
DRY=()
if [[ "${1:-}" == "--dry-run" ]]; then DRY=(echo "dry run:"); shift; fi
BRANCH=${1:?usage: open_pr.sh [--dry-run] BRANCH [BASE]}
BASE=${2:-main}
BODY=${RETRAIN_REPORT_DIR:-reports/retrain}/report.md
TITLE=$(git log -1 --format=%s "$BRANCH")
"${DRY[@]}" git push --force origin "$BRANCH"
"${DRY[@]}" gh pr create --base "$BASE" --head "$BRANCH" --title "$TITLE" --body-file "$BODY" --label retrain
