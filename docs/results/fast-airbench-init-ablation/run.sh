# Session 5, at commit 842d2b5, with the fast preset as it was before it took whiten_init
# and bn_bias_lr_scale. Two runs at once, one thread each: train_s compares variants only.
cd /work/main
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26
.venv/bin/python benchmarks/recipe_ablation.py fast --seeds 0 1 --jobs 2 --threads 1 --out ablation.jsonl \
    --variant base --variant "dirac dirac_init=true" --variant "whiten whiten_init=true" \
    --variant "bnb64 bn_bias_lr_scale=64" --variant "bnb8 bn_bias_lr_scale=8" \
    --variant "all dirac_init=true whiten_init=true bn_bias_lr_scale=64"
.venv/bin/python benchmarks/recipe_ablation.py fast --seeds 0 1 2 3 --jobs 2 --threads 1 --out ablation.jsonl \
    --variant base --variant "whiten whiten_init=true" --variant "whiten-bnb8 whiten_init=true bn_bias_lr_scale=8"
