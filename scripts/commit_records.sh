#!/usr/bin/env bash
# Commit the result records that have landed, then the results files rebuilt from them, while result jobs run.
#   bash scripts/commit_records.sh          # once
#   bash scripts/commit_records.sh --every 600   # every 10 minutes until killed (run it with nohup ... &)
# Why: a later session on a fresh machine keeps only what was committed, so records are committed as they land.
# Only finished records are taken (results/*/records/*.json: the runner writes each one to a temp file and renames
# it into place, so a half-written record never has that name), and only those paths are committed: ongoing edits
# elsewhere in this checkout stay uncommitted. The tables are rebuilt by scripts/results_tables.sh in a worktree
# checked out at the new HEAD (../wt/tables), so the committed markdown is what the committed records and code
# give (tests/test_results_rebuild.py checks exactly that), whatever is uncommitted here.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
EVERY=0
case "${1:-}" in
  --every) EVERY=${2:-}; case $EVERY in ''|*[!0-9]*|0) echo "--every needs a positive number of seconds, got '${2:-}'" >&2; exit 2;; esac;;
  '') ;;
  *) echo "usage: $0 [--every SECONDS]   (got '$1')" >&2; exit 2;;
esac
TABLES="$ROOT/../wt/tables"

once() {
  local new
  git add -- 'results/*/records/*.json'
  new=$(git diff --cached --name-only -- 'results/*/records/*.json' | wc -l)
  if [ "$new" = 0 ]; then echo "$(date -u +%FT%TZ) no new records"; return 0; fi
  git commit -q -m "results: $new new records" -- 'results/*/records/*.json'
  local head log
  head=$(git rev-parse HEAD)  # this checkout's HEAD: inside the worktree "HEAD" would name the worktree's own
  [ -d "$TABLES" ] || git worktree add -q --detach "$TABLES" "$head"
  git -C "$TABLES" checkout -q -f --detach "$head"
  ln -sfn "$ROOT/.venv" "$TABLES/.venv"
  [ -e "$TABLES/../shared" ] || ln -sfn "$ROOT/../shared" "$TABLES/../shared"
  # PYTHONPATH: the venv's editable install points at this checkout; the rebuild must use HEAD's code
  log="$TABLES/../tables-rebuild.log"
  (cd "$TABLES" && PYTHONPATH="$TABLES" HF_HUB_OFFLINE=1 bash scripts/results_tables.sh > "$log" 2>&1) || {
    tail -n 20 "$log" >&2; echo "the rebuild failed (log: $log); the records are committed, the tables not" >&2
    return 1; }
  local changed
  changed=$(git -C "$TABLES" status --porcelain --untracked-files=all -- results | awk '{print $2}')
  if [ -n "$changed" ]; then
    for f in $changed; do mkdir -p "$(dirname "$f")"; cp "$TABLES/$f" "$f"; git add -- "$f"; done
    # shellcheck disable=SC2086
    git commit -q -m "results: tables rebuilt from the committed records" -- $changed
  fi
  echo "$(date -u +%FT%TZ) committed $new records; $(echo "$changed" | grep -c . || true) results files rebuilt"
}

[ "$EVERY" = 0 ] && { once; exit; }
# Each round is this script run once, as its own process: `set -e` is ignored inside a function called from an
# `||` list, so a failed step would otherwise be passed over. A failed round is said and the next one tries again.
while true; do
  bash "$ROOT/scripts/commit_records.sh" || echo "$(date -u +%FT%TZ) this round failed (see above)" >&2
  sleep "$EVERY"
done
