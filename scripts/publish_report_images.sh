#!/usr/bin/env bash
# Publish the report's images to a branch, so the PR comment can show them inline.
#   scripts/publish_report_images.sh REPORT_DIR DEST_PATH [BRANCH]
# Copies REPORT_DIR/images/* to DEST_PATH/ on BRANCH (default pr-report-assets, an orphan branch holding only
# images) and pushes it to origin. metrics_report.py --image-base-url must point at the same place:
#   https://raw.githubusercontent.com/OWNER/REPO/BRANCH/DEST_PATH
# Public repositories only (raw URLs need no login); elsewhere use the uploaded report artifact instead.
set -euo pipefail
REPORT_DIR=${1:?usage: publish_report_images.sh REPORT_DIR DEST_PATH [BRANCH]}
DEST=${2:?DEST_PATH missing}
BRANCH=${3:-pr-report-assets}
WORK=$(mktemp -d)
trap 'git worktree remove --force "$WORK" >/dev/null 2>&1 || rm -rf "$WORK"' EXIT
export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-github-actions[bot]}
export GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-41898282+github-actions[bot]@users.noreply.github.com}
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL

if git fetch --quiet origin "$BRANCH" 2>/dev/null; then
  git worktree add --quiet --detach "$WORK" FETCH_HEAD
else
  git worktree add --quiet --detach "$WORK"
  git -C "$WORK" checkout --quiet --orphan "$BRANCH"
  git -C "$WORK" rm -rfq . >/dev/null
fi
mkdir -p "$WORK/$DEST"
cp "$REPORT_DIR"/images/* "$WORK/$DEST/"
git -C "$WORK" add -A "$DEST"
git -C "$WORK" commit --quiet -m "Report images for $DEST" || echo "images unchanged"
# Other PRs publish to the same branch under other paths: on a rejected push, rebase onto theirs and retry.
for attempt in 1 2 3 4 5; do
  git -C "$WORK" push --quiet origin "HEAD:refs/heads/$BRANCH" && break
  (( attempt < 5 )) || { echo "could not push $BRANCH" >&2; exit 1; }
  sleep $((attempt * 2))
  git -C "$WORK" fetch --quiet origin "$BRANCH" && git -C "$WORK" rebase --quiet FETCH_HEAD
done
echo "published $REPORT_DIR/images to $BRANCH:$DEST"
