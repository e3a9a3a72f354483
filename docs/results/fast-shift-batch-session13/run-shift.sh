#!/bin/sh
# Ran from a worktree at commit 2db3e51; the --out file is committed here as ablation.jsonl.
# Session 13, 2-core AMD EPYC: does `fast` gain from training on 1-pixel shifts (with and without multi-crop TTA)?
# Session 4's multi-crop TTA lost 0.21 points because fast never saw shifted images.
cd /work/fl-s13
PYTHONPATH=/work/fl-s13/src FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 \
/work/main/.venv/bin/python benchmarks/recipe_ablation.py fast --seeds 0 1 --validation-split 0.1 --jobs 2 --threads 1 \
  --keep /work/study13/fast-shift --out /work/study13/fast-shift.jsonl \
  --variant base --variant "shift1 shift=1" --variant "shift1-tta shift=1 tta_shift=1"
