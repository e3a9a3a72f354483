#!/bin/sh
# Session 17, 2-core AMD EPYC with AVX512-BF16, nothing else running; from a worktree at 53eebcb.
# fast against two candidates with fewer multiply-adds, on the last 10% of the training set, 4 seeds,
# one run at a time with 2 threads (so each run's train_s is a time on the same machine, seed-major).
cd /work/fl-abl
PYTHONPATH=/work/fl-abl/src FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 \
/work/main/.venv/bin/python benchmarks/recipe_ablation.py fast --seeds 0 1 2 3 --out /work/study17/pool-first.jsonl \
  --keep /work/study17/pool-first-keep \
  --variant base --variant "pool-first model=fastnet3-pool-first" --variant "pool-first-both model=fastnet3-pool-first-both"
