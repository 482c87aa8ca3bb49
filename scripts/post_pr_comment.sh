#!/usr/bin/env bash
# Create or update the PR comment that carries the metrics report (found by its hidden marker).
#   scripts/post_pr_comment.sh report/report.md            # needs GH_TOKEN, GITHUB_REPOSITORY, PR_NUMBER
#   scripts/post_pr_comment.sh --dry-run report/report.md  # prints what it would do, calls nothing
set -euo pipefail
DRY_RUN=0
if [[ "${1:-}" == "--dry-run" ]]; then DRY_RUN=1; shift; fi
BODY=${1:-report/report.md}
MARKER=${REPORT_MARKER:-<!-- deepfake-metrics-report -->}
REPO=${GITHUB_REPOSITORY:-OWNER/REPO}
PR=${PR_NUMBER:-0}

grep -qF -- "$MARKER" "$BODY" || { echo "error: $BODY lacks the marker $MARKER" >&2; exit 1; }
if (( DRY_RUN )); then
  echo "dry run: would find the comment containing '$MARKER' on $REPO#$PR and PATCH it, else POST a new one"
  echo "dry run: body $BODY ($(wc -c <"$BODY") bytes)"
  exit 0
fi
: "${GITHUB_REPOSITORY:?set GITHUB_REPOSITORY}" "${PR_NUMBER:?set PR_NUMBER}"
ID=$(gh api --paginate "repos/$REPO/issues/$PR/comments" \
  --jq "[.[] | select(.body | contains(\"$MARKER\")) | .id] | first // empty" | head -n1)
if [[ -n "$ID" ]]; then
  gh api --method PATCH "repos/$REPO/issues/comments/$ID" -F "body=@$BODY" --jq .html_url
else
  gh api --method POST "repos/$REPO/issues/$PR/comments" -F "body=@$BODY" --jq .html_url
fi
