#!/usr/bin/env bash
# Session 11: best's muon_lr (0.05 since session 10, chosen on fast) at 0.035 and 0.07, validation split 0.1,
# paired by seed with session 10's 0.05 rows (docs/results/best-muon-session10/muon-best.jsonl).
cd /work/fl-m11
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26
export PYTHONPATH=/work/fl-m11/src
exec /work/main/.venv/bin/python benchmarks/recipe_ablation.py best --seeds 0 1 --jobs 1 --threads 1 --keep /work/study11/keep \
  --out /work/study11/best-muon-lr.jsonl --variant "muon0.035 muon_lr=0.035"
