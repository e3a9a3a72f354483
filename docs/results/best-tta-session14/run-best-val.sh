#!/bin/sh
# Session 14, 2-core AMD EPYC with AVX512-BF16, from a worktree at 13ab3d4: `best` on a 10% validation split,
# seeds 0-3 (2 and 3 started after 0 and 1 finished), kept (weights included) so that test-time augmentation can be compared on the validation split.
cd /work/fl-s14
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONPATH=/work/fl-s14/src
/work/main/.venv/bin/python benchmarks/recipe_ablation.py best --seeds 0 1 2 3 --jobs 2 --threads 1 \
  --out /work/study14/best-val.jsonl --keep /work/study14/best-keep --variant base
