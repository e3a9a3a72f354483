# Session 23, on the 2-core Intel Xeon with AMX, from a worktree at 09633b5 (best: fastnet2-wide-deep, 21 epochs,
# tta_shift 1, validation_freq 7), nothing else CPU-bound running.
cd /work/fl-best23t
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONPATH=/work/fl-best23t/src
/work/main/.venv/bin/python benchmarks/time_to_accuracy.py best --seeds 0 1 2 --target 0.957 --budget 900 \
  --keep /work/tta23/keep --json /work/tta23/time-to-accuracy-best.json
