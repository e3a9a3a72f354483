cd /work/main
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26
.venv/bin/python benchmarks/time_to_accuracy.py fast --seeds 0 1 2 --target 0.945 --budget 60 --json /work/scratch/tta/fast-fastnet2.json --keep /work/scratch/tta/runs-fastnet2
.venv/bin/python benchmarks/time_to_accuracy.py fast --seeds 0 1 2 --target 0.945 --budget 60 --reference-steps 0 --set model=fastnet --json /work/scratch/tta/fast-fastnet.json --keep /work/scratch/tta/runs-fastnet
