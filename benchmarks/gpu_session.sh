#!/usr/bin/env bash
# One lent-GPU session, prepared in advance (device time is scarce). Stages, in the order given
# (default: tests fast max reproduce):
#   tests      the CUDA tests;
#   fast       the fast preset's time to accuracy, seeds 0-2, alone on the GPU;
#   max        the max preset's time to accuracy, seed 0, alone on the GPU (70 epochs); it stops
#              $MAX_RESERVE_S seconds (default 20) before the deadline and resumes in a later call;
#   muon-max   max with Muon on the filters against max's SGD, validation split 0.1, seeds 0 and 1,
#              two runs at once, started in the background (later stages run beside it: their
#              times are then shared) and stopped at the deadline; resumes in a later call;
#   reproduce  the paper's full-length reproduction with six jobs side by side, until the deadline.
# Usage on the GPU machine, from the repository root, with the dataset in $FASHIONLAB_DATA:
#   bash benchmarks/gpu_session.sh OUT_DIR DEADLINE_EPOCH_SECONDS [STAGE ...]
# A rehearsal on a machine without a GPU: DEVICE=cpu SETS="epochs=1 train_limit=2000" (config
# overrides added to every run; the CUDA tests skip there).
# Runs are kept under runs/ (kept between calls while the machine stays warm), so calling again
# with the same stages resumes them; the small files (never weights) are packed into OUT_DIR.
set -u
out=$1; deadline=$2; shift 2
stages=${*:-tests fast max reproduce}
for stage in $stages; do
  case $stage in tests|fast|max|muon-max|reproduce) ;;
    *) echo "unknown stage $stage (tests, fast, max, muon-max, reproduce)"; exit 2 ;; esac
done
export PYTHONPATH=$PWD/src FASHIONLAB_CACHE=/tmp/fl-cache PYTHONUNBUFFERED=1
py=python3
device=${DEVICE:-cuda}
sets=(${SETS:-})
mkdir -p runs
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
background=()
for stage in $stages; do
case $stage in
tests)
  echo "== CUDA tests ($(left) s left)"
  timeout 300 $py -m pytest tests/test_cuda.py -v -s -p no:cacheprovider -W ignore 2>&1 ;;
fast)
  echo "== fast: time to accuracy ($(left) s left)"
  timeout 150 $py benchmarks/time_to_accuracy.py fast --seeds 0 1 2 --target 0.94 --budget 60 --device $device \
      --reference-steps 0 ${sets[@]/#/--set=} --json "$out/time-to-accuracy-fast-cuda.json" 2>&1 | grep -v Warning ;;
max)
  echo "== max: time to accuracy, seed 0 ($(left) s left)"
  timeout -s INT -k 15 $(( $(left) - ${MAX_RESERVE_S:-20} )) $py benchmarks/time_to_accuracy.py max --seeds 0 \
      --target 0.96 --budget 7200 --device $device --reference-steps 0 --keep runs/max-cuda ${sets[@]/#/--set=} \
      --json runs/time-to-accuracy-max-cuda.json 2>&1 | grep -v Warning
  cp runs/time-to-accuracy-max-cuda.json "$out/" 2>/dev/null ;;
muon-max)
  echo "== muon-max: validation pairs in the background ($(left) s left)"
  setsid $py benchmarks/recipe_ablation.py max --seeds 0 1 --jobs 2 --threads 4 --keep runs/muon-max \
      --out runs/muon-max.jsonl --variant "base device=$device ${sets[*]}" \
      --variant "muon0.05 device=$device optimizer=muon muon_lr=0.05 ${sets[*]}" >> runs/muon-max.txt 2>&1 &
  background+=($!) ;;
reproduce)
  echo "== reproduce, full length, 6 jobs ($(left) s left)"
  setsid $py -m fashionlab reproduce --out runs/gpu-full-length --device cuda --jobs 6 --quiet > "$out/reproduce.txt" 2>&1 &
  background+=($!) ;;
esac
done
for pid in "${background[@]}"; do
  while kill -0 $pid 2>/dev/null && [ "$(left)" -gt 25 ]; do sleep 2; done
  if kill -0 $pid 2>/dev/null; then echo "deadline: interrupting $pid"; kill -INT -- -$pid; sleep 10; kill -KILL -- -$pid 2>/dev/null; fi
  wait $pid; echo "background job $pid exit $?"
done
[ -f runs/muon-max.txt ] && cp runs/muon-max.txt "$out/" && grep -v Warning runs/muon-max.txt | tail -8
[ -f runs/muon-max.jsonl ] && cp runs/muon-max.jsonl "$out/"
# The runs' small files (never weights or checkpoints), for docs/results.
tar czf "$out/runs-small-files.tgz" --exclude='*.pt' --exclude='*.png' runs 2>/dev/null
ls -la "$out"
