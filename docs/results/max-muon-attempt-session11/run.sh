#!/usr/bin/env bash
# Session 11: max with Muon on the filters against max's SGD, validation split 0.1, seed 0, two runs at once.
cd /work/fl-m11
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26
export PYTHONPATH=/work/fl-m11/src
exec /work/main/.venv/bin/python benchmarks/recipe_ablation.py max --seeds 0 --jobs 2 --threads 1 \
  --out /work/study11/max-muon.jsonl --variant base --variant "muon0.05 optimizer=muon muon_lr=0.05"
