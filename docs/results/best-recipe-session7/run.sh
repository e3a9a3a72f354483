#!/bin/bash
# Session 7: changes to the `best` recipe on the 10% validation split, seed 0, one thread per run,
# as run (up to three at once on the 2 cores, so train_s is not a wall time to quote). Each
# invocation wrote its own file under /work/study7; ablation.jsonl here is their concatenation and
# recipe_ablation.log their printed lines. narrow70 to shift2 ran from a worktree at 5069dc9, and
# ema999-recal from one at 48d3463 (the EMA with BatchNorm statistics recomputed).
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26
py=/work/main/.venv/bin/python
ablate() { $py benchmarks/recipe_ablation.py best --seeds 0 --threads 1 "$@"; }
cd /work/fl-long && export PYTHONPATH=/work/fl-long/src
ablate --jobs 2 --out /work/study7/best-ablation.jsonl \
  --variant "narrow70 model=fastnet2 epochs=70" --variant "ema999 ema=0.999"
ablate --jobs 1 --out /work/study7/best-ablation-b.jsonl --variant "wd1e-3 weight_decay=1e-3" &
ablate --jobs 1 --out /work/study7/best-ablation-c.jsonl --variant "shift2 shift=2" &
cd /work/fl-long2 && export PYTHONPATH=/work/fl-long2/src
ablate --jobs 1 --out /work/study7/best-ablation-d.jsonl --variant "ema999-recal ema=0.999" &
wait
