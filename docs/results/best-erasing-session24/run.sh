#!/bin/sh
# Session 24, on the 2-core Intel Xeon with AMX: random erasing (max's 0.5) on `best` as it is since session 23
# (fastnet2-wide-deep, 21 epochs, tta_shift 1), on a 10% validation split, seeds 0-3, two runs at once with one
# thread each, from a worktree at bb7ecd5. The comparison is session 23's deep21 runs scored with tta_shift 1.
cd /work/fl-split24
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONPATH=/work/fl-split24/src
/work/main/.venv/bin/python benchmarks/recipe_ablation.py best --seeds 0 1 2 3 --jobs 2 --threads 1 --keep /work/study24re/keep \
  --out /work/study24re/best-erasing.jsonl --variant "deep21re random_erasing=0.5"
