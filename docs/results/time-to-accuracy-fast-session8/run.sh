# Session 8, at commit 06f57ab (fast = fastnet3, with Conv3x3), nothing else running on the 2-core machine.
cd /work/fl-t8
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONPATH=/work/fl-t8/src
P=/work/main/.venv/bin/python
$P benchmarks/time_to_accuracy.py fast --seeds 0 1 2 --target 0.945 --budget 60 --json /work/study8/tta/fast.json --keep /work/study8/tta/runs-fast
$P benchmarks/time_to_accuracy.py fast --set model=fastnet2 --seeds 0 1 2 --target 0.945 --budget 60 --json /work/study8/tta/fast-fastnet2.json --keep /work/study8/tta/runs-fast-fastnet2
