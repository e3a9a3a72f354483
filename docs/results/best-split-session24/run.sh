#!/bin/sh
# Session 24, on the 2-core Intel Xeon with AMX. Splitting session 23's +0.15 between network and TTA:
# 1. Training: `best` as it was until session 22 (fastnet2-wide, 26 epochs) on a 10% validation split, seeds 0-3,
#    two runs at once with one thread each, from a worktree at bb7ecd5:
cd /work/fl-split24
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONPATH=/work/fl-split24/src
/work/main/.venv/bin/python benchmarks/recipe_ablation.py best --seeds 0 1 2 3 --jobs 2 --threads 1 --keep /work/study24/keep \
  --out /work/study24/best-wide.jsonl --variant "wide26 model=fastnet2-wide epochs=26 tta_shift=0"
# 2. Scoring the kept runs' validation images with and without multi-crop TTA (nothing else running):
cd /work/study24
for s in 0 1 2 3; do for t in 0 1; do
  echo "keep/wide26-seed$s validation, tta_shift $t: $(/work/main/.venv/bin/python -m fashionlab evaluate keep/wide26-seed$s --split validation --tta-shift $t 2>&1 | grep -E '^validation accuracy|agrees|compared' | tr '\n' ' ')"
done; done > tta-validation.txt
# 3. Which shifted views multi-crop TTA should average (tta_views.py, one thread, beside step 1's and the
#    random-erasing study's training, which changes no number): session 23's deep21 runs, then these four.
export OMP_NUM_THREADS=1
/work/main/.venv/bin/python tta_views.py /work/study23/keep/deep21-seed0 /work/study23/keep/deep21-seed1 \
  /work/study23/keep/deep21-seed2 /work/study23/keep/deep21-seed3 > tta-views-deep21.txt
/work/main/.venv/bin/python tta_views.py keep/wide26-seed0 keep/wide26-seed1 keep/wide26-seed2 keep/wide26-seed3 \
  > tta-views-wide26.txt
