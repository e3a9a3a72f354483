#!/bin/sh
# Session 13, 2-core AMD EPYC with AVX512-BF16, nothing else running; from a worktree at d955bf4.
cd /work/fl-s13
PYTHONPATH=/work/fl-s13/src FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 \
/work/main/.venv/bin/python benchmarks/time_to_accuracy.py fast --seeds 0 1 2 --target 0.945 --budget 60 \
  --json /work/study13/time-to-accuracy-fast.json
