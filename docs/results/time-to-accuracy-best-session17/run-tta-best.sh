#!/bin/sh
# Session 17, 2-core AMD EPYC with AVX512-BF16, nothing else running; from a worktree at 29a1378.
cd /work/fl-long
PYTHONPATH=/work/fl-long/src FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 \
/work/main/.venv/bin/python benchmarks/time_to_accuracy.py best --seeds 0 1 --target 0.957 --budget 900 \
  --keep /work/study17/best-keep --json /work/study17/time-to-accuracy-best.json
