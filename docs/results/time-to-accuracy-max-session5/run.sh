# Session 5, from a worktree at commit 26c06e3 (max preset as committed there), machine otherwise quiet
# except for about 90 s of unit tests in the first six epochs (epoch 1 took 103 s, the others 65-80 s).
cd /work/fl-max
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONPATH=/work/fl-max/src
/work/main/.venv/bin/python benchmarks/time_to_accuracy.py max --seeds 0 --target 0.96 --budget 7200 \
    --keep /work/max-runs --json /work/max-runs/time-to-accuracy-max-seed0.json
