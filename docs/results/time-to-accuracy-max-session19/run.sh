#!/bin/bash
# The max preset as committed at 7d88c7f (fastnet2-xl-deep, 50 epochs, multi-crop TTA, validation after every
# epoch), seed 1, on the 2-core AMD EPYC, from a worktree at that commit (git worktree add ../fl-max19 7d88c7f);
# resumes from its checkpoint when run again.
cd /work/fl-max19
export PYTHONPATH=$PWD/src FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26
exec /work/main/.venv/bin/python benchmarks/time_to_accuracy.py max --seeds 1 --target 0.96 --budget 7200 --keep /work/max18-runs --json /work/max18-runs/time-to-accuracy-max-seed1.json
