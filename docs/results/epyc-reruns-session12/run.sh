#!/usr/bin/env bash
# Session 12 on the AMD EPYC: rerun the README figures whose files sessions 1 and 3 did not keep.
set -u
cd /work/fl-m12
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONPATH=/work/fl-m12/src PYTHONUNBUFFERED=1
py=/work/main/.venv/bin/python
S=/work/study12
$py -c "import sys; sys.path.insert(0, 'benchmarks'); from machine import measure_machine_state as m; print('before', m(1500))" > $S/machine-before.txt 2>&1
[ -f $S/scaled-fp32/report.html ] || $py -m fashionlab reproduce --scale 0.02 --precision fp32 --out $S/scaled-fp32 --quiet > $S/scaled-fp32.log 2>&1
for p in fp32 bf16; do
  [ -f $S/cnn2-15-$p/weights.pt ] || $py -m fashionlab train cnn-2 --epochs 15 --precision $p --out $S/cnn2-15-$p --resume > $S/cnn2-15-$p.log 2>&1 \
    || $py -m fashionlab train cnn-2 --epochs 15 --precision $p --out $S/cnn2-15-$p > $S/cnn2-15-$p.log 2>&1
done
$py benchmarks/throughput.py --precision fp32 bf16 --json $S/throughput-six.json > $S/throughput-six.log 2>&1
$py -c "import sys; sys.path.insert(0, 'benchmarks'); from machine import measure_machine_state as m; print('after', m(1500))" > $S/machine-after.txt 2>&1
echo done > $S/DONE
