#!/usr/bin/env bash
# After run.sh: the scaled fp32 runs again on a machine left alone (run.sh's were timed beside other work),
# then the layout and compile comparison of CNN-2's step (throughput.py from the main checkout).
set -u
while [ ! -f /work/study12/DONE ]; do sleep 10; done
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONUNBUFFERED=1
py=/work/main/.venv/bin/python
S=/work/study12
cd /work/fl-m12
[ -f $S/scaled-fp32-quiet/report.html ] || PYTHONPATH=/work/fl-m12/src $py -m fashionlab reproduce --scale 0.02 --precision fp32 --out $S/scaled-fp32-quiet --quiet > $S/scaled-fp32-quiet.log 2>&1
cd /work/main
PYTHONPATH=/work/main/src $py benchmarks/throughput.py --models cnn-2 --precision fp32 bf16 --layouts engine contiguous --compile off on --repeats 5 --json $S/throughput-cnn2-layout-compile.json > $S/throughput-cnn2-layout-compile.log 2>&1
echo done > $S/DONE2
