#!/usr/bin/env bash
# Do two checkouts compute the same numbers? The same tiny run (tiny-bert on RTE: held-out slice, grouped
# batches, 4 steps) for each of the six methods in both trees; prints, per method, whether the records'
# metrics (per-epoch train loss and eval) and parameter counts are identical. What "hash-neutral" claims in
# the results files rest on: a result table may mix commits only where this says identical.
#   git worktree add --detach /tmp/old <commit>
#   bash scripts/check_same_numbers.sh /tmp/old .        # needs ../shared/data/glue (BCA_SHARED_DATA)
set -euo pipefail
OLD=$(cd "$1" && pwd); NEW=$(cd "$2" && pwd)
BIN="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin"; PY="$BIN/python"
DATA="${BCA_SHARED_DATA:-$NEW/../shared/data}/glue"
OUT=$(mktemp -d)
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_SILENT=true
for side in old new; do
  tree=$OLD; [ "$side" = new ] && tree=$NEW
  for m in lora vera fourierft c3a bca cdd; do
    (cd "$tree" && PYTHONPATH="$tree" "$BIN/bca-run" model=tiny-bert "method=$m" task=rte "task.data_dir=$DATA" \
      task.max_train_samples=40 task.max_eval_samples=24 task.holdout=0.2 trainer.max_steps=4 trainer.batch_size=8 \
      trainer.group_by_length=true trainer.max_length=64 trainer.progress=false logger=disabled \
      "results_dir=$OUT/$side" > "$OUT/$side-$m.log" 2>&1) || { echo "$side $m failed: $OUT/$side-$m.log"; exit 1; }
  done
done
"$PY" - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
old = {p.name: json.loads(p.read_text()) for p in (out / "old" / "records").glob("*.json")}
new = {p.name: json.loads(p.read_text()) for p in (out / "new" / "records").glob("*.json")}
if sorted(old) != sorted(new):
    sys.exit(f"run ids differ: {sorted(old)} vs {sorted(new)}")
bad = 0
for name in sorted(old, key=lambda n: old[n]["config"]["method"]["name"]):
    a, b = old[name], new[name]
    same = a["metrics"] == b["metrics"] and a["params"] == b["params"]
    bad += not same
    print(f"{a['config']['method']['name']:10s} {name[:-5]}  {'identical' if same else 'DIFFERENT'}")
print(f"commits: {old[name]['git']['commit'][:7]} -> {new[name]['git']['commit'][:7]}")
sys.exit(1 if bad else 0)
PY
