#!/bin/bash
# max, validation_freq = 10, seed $1; resumable (same command resumes)
cd /work/fl-max20
S=${1:-0}
PYTHONPATH=$PWD/src FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 exec /work/main/.venv/bin/python benchmarks/time_to_accuracy.py max --seeds $S --target 0.96 --budget 7200 --keep /work/max20-runs --json /work/max20-runs/time-to-accuracy-max-seed$S.json
