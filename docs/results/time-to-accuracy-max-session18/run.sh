# The max preset as committed at 6151aad (fastnet2-xl-deep, 50 epochs, multi-crop TTA), seed 0, on the
# 2-core AMD EPYC, from a worktree at that commit; resumes from its checkpoint when run again.
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26
cd /work/fl-max18 && PYTHONPATH=/work/fl-max18/src /work/main/.venv/bin/python benchmarks/time_to_accuracy.py max \
    --seeds 0 --target 0.96 --budget 7200 --keep /work/max18-runs --json /work/max18-runs/time-to-accuracy-max-seed0.json
