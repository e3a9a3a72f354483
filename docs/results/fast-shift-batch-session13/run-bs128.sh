#!/bin/sh
# Ran from a worktree at commit 2db3e51; the --out file is committed here as ablation.jsonl.
# Session 13, 2-core AMD EPYC: `fast` at batch 128 (twice the steps per epoch) against the preset's 256.
# base seeds 0 and 1 come from run-shift.sh (same --out file: finished pairs are skipped).
cd /work/fl-s13
PYTHONPATH=/work/fl-s13/src FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 \
/work/main/.venv/bin/python benchmarks/recipe_ablation.py fast --seeds 0 1 --validation-split 0.1 --jobs 2 --threads 1 \
  --keep /work/study13/fast-shift --out /work/study13/fast-shift.jsonl \
  --variant base --variant "bs128-lr0.1 batch_size=128 lr=0.1" --variant "bs128-lr0.2 batch_size=128 lr=0.2"
