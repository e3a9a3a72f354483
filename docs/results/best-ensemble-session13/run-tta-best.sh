#!/bin/sh
# Session 13, 2-core AMD EPYC with AVX512-BF16, nothing else running; from a worktree at d955bf4.
# The two runs are kept for `fashionlab ensemble` (the README's ensemble row had no files since session 3).
cd /work/fl-s13
PYTHONPATH=/work/fl-s13/src FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 \
/work/main/.venv/bin/python benchmarks/time_to_accuracy.py best --seeds 0 1 --target 0.957 --budget 900 \
  --keep /work/study13/best-keep --json /work/study13/time-to-accuracy-best.json
# Then, in /work/study13 (ensemble.log):
#   fashionlab ensemble best-keep/best-seed0 best-keep/best-seed1 --out best-ensemble
