# Session 10, at commit 572407b (best with optimizer muon), on the 2-core machine, nothing else running.
cd /work/fl-m10
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONPATH=/work/fl-m10/src
P=/work/main/.venv/bin/python
$P benchmarks/time_to_accuracy.py best --seeds 0 1 2 --target 0.957 --budget 900 --json /work/study10/tta/best.json --keep /work/study10/tta/runs-best
