#!/bin/sh
# Session 21, 2-core Intel Xeon with AMX, nothing else running; from /work/main at 89dedb4.
cd /work/main
export PYTHONPATH=/work/main/src FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26
.venv/bin/python benchmarks/time_to_accuracy.py fast --seeds 0 1 2 --target 0.945 --budget 60 \
  --json /work/fast21/time-to-accuracy-fast.json
.venv/bin/python benchmarks/time_to_accuracy.py fast --seeds 0 1 2 --target 0.94 --budget 30 --set epochs=2 \
  --json /work/fast21/time-to-accuracy-fast-2-epochs.json
