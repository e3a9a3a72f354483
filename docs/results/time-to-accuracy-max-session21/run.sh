#!/bin/bash
# max (validation_freq = 10), seeds 0 and 1 in one invocation, on the Intel Xeon; resumable (same command resumes)
cd /work/fl-max22
PYTHONPATH=$PWD/src FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 exec /work/main/.venv/bin/python benchmarks/time_to_accuracy.py max --seeds 0 1 --target 0.96 --budget 7200 --keep /work/max22-runs --json /work/max22-runs/time-to-accuracy-max.json
