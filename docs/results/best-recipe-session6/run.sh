# Session 6, from a worktree at commit ddc54b9 (/work/fl-abl): the best preset and the best preset
# with fast's two initialisation tricks, seed 0, two at once with one thread each, nothing else
# running. (A first start with seeds 0 and 1 was stopped within seconds: it would have paired
# base with base in its first round, and both seeds did not fit the session.)
cd /work/fl-abl
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONPATH=/work/fl-abl/src
/work/main/.venv/bin/python benchmarks/recipe_ablation.py best --seeds 0 --jobs 2 --threads 1 --out ablation.jsonl \
    --variant base --variant "whiten-bnb8 whiten_init=true bn_bias_lr_scale=8"
# Then random erasing (max's regulariser) on best, seed 0, one job with both threads (PyTorch's
# default), nothing else running.
/work/main/.venv/bin/python benchmarks/recipe_ablation.py best --seeds 0 --jobs 1 --threads 0 --out ablation.jsonl \
    --variant "erase random_erasing=0.5"
