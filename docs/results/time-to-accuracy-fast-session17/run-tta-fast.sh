#!/bin/sh
# Session 17, 2-core AMD EPYC with AVX512-BF16, nothing else running; from a worktree at 29a1378.
cd /work/fl-long
PYTHONPATH=/work/fl-long/src FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 \
/work/main/.venv/bin/python benchmarks/time_to_accuracy.py fast --seeds 0 1 2 --target 0.945 --budget 60 \
  --json /work/study17/time-to-accuracy-fast.json
