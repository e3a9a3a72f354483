#!/bin/sh
# Session 27, on the 2-core Intel Xeon with AMX: `best` as it is since session 23 (fastnet2-wide-deep, tta_shift 1)
# trained 26 epochs of which the first 9 on images scaled down to 16x16 (progressive resizing; a 16x16 step measured
# 0.45x a 28x28 one in session 26, so about 21 epochs' time), on a 10% validation split, seeds 0-3, two runs at once
# with one thread each, from a worktree at 94d8069 (the commit that added low_res_epochs). Compared with session 23's deep21
# (the preset's 21 epochs) and session 26's deep26 (26 full-size epochs), both scored with tta_shift 1.
cd /work/fl-pr27
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONPATH=/work/fl-pr27/src
/work/main/.venv/bin/python benchmarks/recipe_ablation.py best --seeds 0 1 2 3 --jobs 2 --threads 1 --keep /work/study27/keep \
  --out /work/study27/best-pr26.jsonl --variant "pr26 epochs=26 low_res_epochs=9 low_res=16"
