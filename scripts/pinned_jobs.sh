#!/usr/bin/env bash
# Start result jobs the way results/ requires: from a git worktree pinned at the current commit (so ongoing edits
# never dirty the runs), N single-thread copies of one bca-reproduce command sharing the table through run locks,
# records written into THIS checkout's results/ (commit them as they land).
#   bash scripts/pinned_jobs.sh 2 minilm_glue --tune results_dir=results/minilm_glue task.data_dir=../shared/data/glue
# COMMIT=<sha> pins that commit instead of HEAD: resume a table from the commit its records already name, so the
# whole table keeps coming from one commit while the code moves on.
# Paths in the arguments are taken relative to this checkout. Logs: <worktree>/logs/copy-<i>.log. Stop: kill the
# printed pids (a killed run resumes from its last checkpoint on the next start).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 COPIES EXPERIMENT [bca-reproduce options and overrides]" >&2; exit 2; }
COPIES=$1; shift
case $COPIES in ''|*[!0-9]*|0) echo "COPIES must be a positive integer, got '$COPIES'" >&2; exit 2;; esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if [ -n "${COMMIT:-}" ]; then
  SHA=$(git rev-parse --short --verify "${COMMIT}^{commit}" 2>/dev/null) || {
    echo "COMMIT=$COMMIT is not a commit of this repository" >&2; exit 2; }
else
  if [ -n "$(git status --porcelain --untracked-files=no -- bca configs experiments)" ]; then
    echo "bca/, configs/ or experiments/ has uncommitted changes: commit them first (the records name one clean commit)" >&2
    exit 2
  fi
  SHA=$(git rev-parse --short HEAD)
fi
WT="$ROOT/../wt/run-$SHA"
[ -d "$WT" ] || git worktree add -q --detach "$WT" "$SHA"
[ -e "$WT/../shared" ] || ln -sfn "$ROOT/../shared" "$WT/../shared"
ARGS=()
for a in "$@"; do  # results_dir=results/x -> this checkout's results/x (the worktree's own results/ stays clean)
  case $a in results_dir=/*) ARGS+=("$a");; results_dir=*) ARGS+=("results_dir=$ROOT/${a#results_dir=}");; *) ARGS+=("$a");; esac
done
mkdir -p "$WT/logs"
# offline by default (the local data and models); HF_HUB_OFFLINE=0 lets the copies download from the hub
export PYTHONPATH="$WT" OMP_NUM_THREADS=1 HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" WANDB_SILENT=true
for i in $(seq 1 "$COPIES"); do
  (cd "$WT" && nohup "$ROOT/.venv/bin/bca-reproduce" "${ARGS[@]}" trainer.progress=false > "logs/copy-$i.log" 2>&1 &
   echo "copy $i: pid $! (log $WT/logs/copy-$i.log)")
  sleep 2  # let the first copy take its lock before the next one looks
done
echo "worktree $WT at $SHA; records land in $ROOT/results"
