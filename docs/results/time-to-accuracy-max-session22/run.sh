#!/bin/bash
# max seed 1 on the Intel Xeon (median with session 21's seed 0: 95.90% in 5,838.5 s); resumable (same command resumes)
cd /work/fl-max23
PYTHONPATH=$PWD/src FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 exec /work/main/.venv/bin/python benchmarks/time_to_accuracy.py max --seeds 1 --target 0.96 --budget 7200 --keep /work/max23-runs --json /work/max23-runs/time-to-accuracy-max-seed1.json
# then, with session 21's finished seed 0 (/work/max22-runs/max-seed0) copied into /work/max23-runs, the read-back of both seeds:
# PYTHONPATH=$PWD/src ... benchmarks/time_to_accuracy.py max --seeds 0 1 --target 0.96 --budget 7200 --keep /work/max23-runs --json /work/max23-runs/time-to-accuracy-max.json
