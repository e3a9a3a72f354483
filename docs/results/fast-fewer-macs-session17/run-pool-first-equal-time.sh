#!/bin/sh
# Session 17, as run-pool-first.sh (worktree at 53eebcb), after it.
# Then, at equal training time: base for 3 epochs against pool-first for 4, and pool-first for 5 against base for 4.
cd /work/fl-abl
PYTHONPATH=/work/fl-abl/src FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 \
/work/main/.venv/bin/python benchmarks/recipe_ablation.py fast --seeds 0 1 2 3 --out /work/study17/pool-first-equal-time.jsonl \
  --keep /work/study17/pool-first-keep \
  --variant "base-3-epochs epochs=3" --variant "pool-first-5-epochs model=fastnet3-pool-first epochs=5"
