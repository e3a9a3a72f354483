#!/usr/bin/env bash
# One lent-GPU session, prepared in advance (device time is scarce). Stages, in the order given
# (default: all four): `tests` the CUDA tests; `fast` the fast preset's time to accuracy, seeds 0-2;
# `max` the max preset's time to accuracy, seed 0 (never measured on a GPU; 70 epochs); `reproduce`
# the paper's full-length reproduction with six jobs side by side, until the deadline.
# Usage on the GPU machine, from the repository root, with the dataset in $FASHIONLAB_DATA:
#   bash benchmarks/gpu_session.sh OUT_DIR DEADLINE_EPOCH_SECONDS [STAGE ...]
# The reproduction is interrupted (SIGINT: checkpoint at the next batch) at the deadline; the
# run folders, checkpoints included, are packed into OUT_DIR so that a second session can resume.
set -u
out=$1; deadline=$2; shift 2
stages=${*:-tests fast max reproduce}
for stage in $stages; do
  case $stage in tests|fast|max|reproduce) ;; *) echo "unknown stage $stage (tests, fast, max, reproduce)"; exit 2 ;; esac
done
export PYTHONPATH=$PWD/src FASHIONLAB_CACHE=/tmp/fl-cache PYTHONUNBUFFERED=1
py=python3
$py -m pip install --no-deps -q .gpu/wheels/*.whl 2>&1 | tail -1
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$out/gpu.txt"
$py - <<'PY' | tee -a "$out/gpu.txt"
import torch, time
print("torch", torch.__version__, torch.cuda.get_device_name(), "cpus", __import__("os").cpu_count())
for dtype in (torch.float32, torch.bfloat16):
    a = torch.rand(8192, 8192, device="cuda", dtype=dtype); b = torch.rand_like(a)
    for _ in range(3): a @ b
    torch.cuda.synchronize(); t = time.perf_counter()
    for _ in range(10): a @ b
    torch.cuda.synchronize()
    print(f"GEMM {dtype}: {10 * 2 * 8192**3 / (time.perf_counter() - t) / 1e12:.0f} TFLOP/s")
PY
left() { echo $(( deadline - $(date +%s) )); }
for stage in $stages; do
case $stage in
tests)
  echo "== CUDA tests ($(left) s left)"
  timeout 150 $py -m pytest tests/test_cuda.py -q -x -p no:cacheprovider 2>&1 | tail -15 | tee "$out/cuda-tests.txt" ;;
fast)
  echo "== fast: time to accuracy ($(left) s left)"
  timeout 150 $py benchmarks/time_to_accuracy.py fast --seeds 0 1 2 --target 0.94 --budget 60 --device cuda \
      --json "$out/time-to-accuracy-fast-cuda.json" 2>&1 | grep -v Warning | tee "$out/fast.txt" ;;
max)
  echo "== max: time to accuracy, seed 0 ($(left) s left)"
  timeout $(( $(left) - 20 )) $py benchmarks/time_to_accuracy.py max --seeds 0 --target 0.96 --budget 7200 \
      --device cuda --reference-steps 0 --keep runs/max-cuda --json "$out/time-to-accuracy-max-cuda.json" 2>&1 \
      | grep -v Warning | tee "$out/max.txt"
  cp runs/max-cuda/*/{config.toml,environment.json,history.csv,metrics.json,summary.txt} "$out/" 2>/dev/null ;;
reproduce)
  echo "== reproduce, full length, 6 jobs ($(left) s left)"
  mkdir -p runs
  setsid $py -m fashionlab reproduce --out runs/gpu-full-length --device cuda --jobs 6 --quiet > "$out/reproduce.txt" 2>&1 &
  pid=$!
  while kill -0 $pid 2>/dev/null && [ "$(left)" -gt 25 ]; do sleep 2; done
  if kill -0 $pid 2>/dev/null; then echo "deadline: interrupting"; kill -INT -- -$pid; sleep 15; kill -KILL -- -$pid 2>/dev/null; fi
  wait $pid; echo "reproduce exit $?" | tee -a "$out/reproduce.txt"
  tail -5 "$out/reproduce.txt"
  tar czf "$out/gpu-full-length.tgz" runs/gpu-full-length ;;
esac
done
ls -la "$out"
