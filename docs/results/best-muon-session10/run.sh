# Session 10, at commit bd8acd1 (`best` still SGD there, so `base` is SGD), on the 2-core machine. Seed 0 of each variant ran in session 9
# (../muon-session9/muon-best.jsonl); its two lines were copied into the file first, so this command skipped them.
cd /work/fl-m10
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONPATH=/work/fl-m10/src
/work/main/.venv/bin/python benchmarks/recipe_ablation.py best --seeds 0 1 2 3 --jobs 2 --threads 1 --out /work/study10/muon-best.jsonl --variant base --variant "muon0.05 optimizer=muon muon_lr=0.05"
