#!/bin/sh
# Session 23, on the 2-core Intel Xeon with AMX, torch 2.14.1.
# 1. Training: `best` on a 10% validation split with fastnet2-wide-deep for 21 epochs (its Muon step took 1.21x
#    fastnet2-wide's, `step_time.py 64,128,256 r64,128,256 --rounds 4 --optimizers muon`), seeds 0-3, two runs at
#    once with one thread each, from a worktree at e35d089 (the model registered, the preset unchanged):
cd /work/fl-best23
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONPATH=/work/fl-best23/src
/work/main/.venv/bin/python benchmarks/recipe_ablation.py best --seeds 0 1 2 3 --jobs 2 --threads 1 --keep /work/study23/keep \
  --out /work/study23/best-deep.jsonl --variant "deep21 model=fastnet2-wide-deep epochs=21"
# 2. Scoring the kept runs' validation images with and without multi-crop TTA (main at 208bf65, nothing else running):
export PYTHONPATH=/work/main/src PATH=/work/main/.venv/bin:$PATH
cd /work/study23
for s in 0 1 2 3; do for t in 0 1; do
  echo "keep/deep21-seed$s validation, tta_shift $t: $(fashionlab evaluate keep/deep21-seed$s --split validation --tta-shift $t 2>&1 | grep -E '^validation accuracy|agrees|compared' | tr '\n' ' ')"
done; done > tta-validation.txt
