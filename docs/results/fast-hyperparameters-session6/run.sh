# Session 6, at commit ddc54b9: the fast preset (whiten_init = true, bn_bias_lr_scale = 8), one
# setting changed at a time. The first invocation ran one job and was stopped after 3 runs (wu0.3
# never ran); the second, with bs512 in wu0.3's place, ran the rest two at once with one thread
# each (finished pairs are skipped). train_s compares variants only and is not a wall time.
cd /work/main
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26
.venv/bin/python benchmarks/recipe_ablation.py fast --seeds 0 1 --jobs 1 --threads 1 --out ablation.jsonl \
    --variant "e5 epochs=5" --variant "lr0.3 lr=0.3" --variant "wd1e-3 weight_decay=1e-3" \
    --variant "mom0.85 momentum=0.85" --variant "lr0.13 lr=0.13" --variant "ls0.05 label_smoothing=0.05" \
    --variant "wu0.1 warmup=0.1" --variant "wu0.3 warmup=0.3"
.venv/bin/python benchmarks/recipe_ablation.py fast --seeds 0 1 --jobs 2 --threads 1 --out ablation.jsonl \
    --variant "e5 epochs=5" --variant "lr0.3 lr=0.3" --variant "wd1e-3 weight_decay=1e-3" \
    --variant "mom0.85 momentum=0.85" --variant "lr0.13 lr=0.13" --variant "ls0.05 label_smoothing=0.05" \
    --variant "wu0.1 warmup=0.1" --variant "bs512 batch_size=512 lr=0.4"
# Then the preset itself at this commit (to check it against the earlier study's rows) and
# fastnet2-wide (best's network, twice the width) at 4, 3 and 2 epochs, two at once with one
# thread each. The first pair ran beside about 45 s of other work (two unit tests and a
# read-back of finished runs); the other pairs beside nothing.
.venv/bin/python benchmarks/recipe_ablation.py fast --seeds 0 1 --jobs 2 --threads 1 --out ablation.jsonl \
    --variant preset --variant "wide4 model=fastnet2-wide"
.venv/bin/python benchmarks/recipe_ablation.py fast --seeds 0 1 --jobs 2 --threads 1 --out ablation.jsonl \
    --variant "wide3 model=fastnet2-wide epochs=3" --variant "wide2 model=fastnet2-wide epochs=2"
