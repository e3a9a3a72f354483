# Session 5, the fast preset with whiten_init = true and bn_bias_lr_scale = 8 (committed with these files),
# nothing else running on the 2-core machine.
cd /work/main
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26
.venv/bin/python benchmarks/time_to_accuracy.py fast --seeds 0 1 2 --target 0.945 --budget 60 \
    --json fast.json --keep runs-fast
.venv/bin/python benchmarks/time_to_accuracy.py fast --set epochs=2 --seeds 0 1 2 --target 0.94 --budget 30 \
    --json fast-epochs2.json --keep runs-fast-e2
