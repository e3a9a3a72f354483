#!/bin/sh
# Session 25, on the 2-core Intel Xeon with AMX: `fast`'s airbench tricks (whitening init of the first convolution, BatchNorm
# biases at 8x the learning rate) on `best` as it is since session 23 (fastnet2-wide-deep, 21 epochs, Muon, tta_shift 1),
# on a 10% validation split, seeds 0-3, two runs at once with one thread each, from a worktree at b69db05.
# The comparison is session 23's deep21 runs scored with tta_shift 1.
cd /work/fl-ls25
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONPATH=/work/fl-ls25/src
/work/main/.venv/bin/python benchmarks/recipe_ablation.py best --seeds 0 1 2 3 --jobs 2 --threads 1 --keep /work/study25/keep \
  --out /work/study25/best-whiten.jsonl --variant "deep21wb whiten_init=true bn_bias_lr_scale=8"
