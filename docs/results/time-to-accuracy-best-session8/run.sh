# Session 8, at commit 06f57ab (best unchanged; the Conv3x3 weight gradient), right after the fast runs, on the 2-core machine.
cd /work/fl-t8
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONPATH=/work/fl-t8/src
P=/work/main/.venv/bin/python
$P benchmarks/time_to_accuracy.py best --seeds 0 1 2 --target 0.957 --budget 900 --json /work/study8/tta/best.json --keep /work/study8/tta/runs-best
