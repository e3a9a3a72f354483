#!/bin/sh
# Session 26, on the 2-core Intel Xeon with AMX: `best` as it is since session 23 (fastnet2-wide-deep, tta_shift 1)
# trained 26 epochs instead of 21 (1.24x the training), on a 10% validation split, seeds 0-3, two runs at once with one
# thread each, from a worktree at cb201a5. The comparison is session 23's deep21 runs scored with tta_shift 1: what
# five more epochs buy says whether a cheaper step (more epochs in the same time) could close best's gap.
cd /work/fl-ep26
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONPATH=/work/fl-ep26/src
/work/main/.venv/bin/python benchmarks/recipe_ablation.py best --seeds 0 1 2 3 --jobs 2 --threads 1 --keep /work/study26/keep \
  --out /work/study26/best-ep26.jsonl --variant "deep26 epochs=26"
