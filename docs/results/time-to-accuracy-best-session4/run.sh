cd /work/main
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26
.venv/bin/python benchmarks/time_to_accuracy.py best --seeds 0 1 2 --target 0.957 --budget 900 --json /work/scratch/tta/best-fastnet2-wide.json --keep /work/scratch/tta/runs-best
