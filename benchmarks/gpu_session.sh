#!/usr/bin/env bash
# One lent-GPU session, prepared in advance (device time is scarce). Stages, in the order given
# (default: tests fast max reproduce):
#   tests      the CUDA tests, each case in a process of its own; then the ann-1 case and the compiled
#              cnn-2 case in one process (the pair that hung before session 16's Dynamo reset); then
#              the compiled cnn-2 case compiling in-process (without Inductor's compile workers);
#   fast       the fast preset's time to accuracy, seeds 0-2, alone on the GPU;
#   max        the max preset's time to accuracy, seed 0, alone on the GPU (50 epochs); it stops
#              $MAX_RESERVE_S seconds (default 20) before the deadline and resumes in a later call;
#   ablation   a validation study (recipe_ablation.py, split 0.1) of $ABLATION_PRESET (default max),
#              variants $ABLATION_VARIANTS (';'-separated "TAG KEY=VALUE ..."; default: the preset
#              against Muon on the filters, as best trains, and against an EMA of the weights (decay
#              0.999 a step), neither measured on fastnet2-xl-deep), seeds $ABLATION_SEEDS (default
#              "0 1"), $ABLATION_JOBS runs at once (default 6: every run of the default), started in
#              the background (later stages run beside it: their times are then shared) and stopped
#              at the deadline; resumes in a later call with the same settings; each finished run is
#              then scored on its validation images with tta_shift 0 and 1 (runs/ablation-tta.txt);
#   reproduce  the paper's full-length reproduction with six jobs side by side, until the deadline;
#   overhead   a paper step eager, compiled and as one CUDA graph (step_overhead.py: ann-1, ann-3, cnn-2),
#              alone on the GPU: session 21 measured 2.5 ms a step for the ANNs, which sets the reproduction.
# Usage on the GPU machine, from the repository root, with the dataset in $FASHIONLAB_DATA:
#   bash benchmarks/gpu_session.sh OUT_DIR DEADLINE_EPOCH_SECONDS [STAGE ...]
# A rehearsal on a machine without a GPU: DEVICE=cpu SETS="epochs=1 train_limit=2000" (config
# overrides added to every run; the CUDA tests skip there).
# Runs are kept under runs/ (kept between calls while the machine stays warm), so calling again
# with the same stages resumes them; the small files (never weights) are packed into OUT_DIR, at
# most 7 files (the device tool brings back 8: the caller's own log is the eighth).
# Each foreground stage ends 40 s before the deadline at the latest (max: $MAX_RESERVE_S).
set -u
out=$1; deadline=$2; shift 2
stages=${*:-tests fast max reproduce}
for stage in $stages; do
  case $stage in tests|fast|max|ablation|reproduce|overhead) ;;
    *) echo "unknown stage $stage (tests, fast, max, ablation, reproduce, overhead)"; exit 2 ;; esac
done
export PYTHONPATH=$PWD/src FASHIONLAB_CACHE=/tmp/fl-cache PYTHONUNBUFFERED=1
py=python3
device=${DEVICE:-cuda}
read -ra sets <<< "${SETS:-}"
set_flags=()
for s in "${sets[@]}"; do set_flags+=("--set=$s"); done
mkdir -p runs
$py -m pip install --no-deps -q .gpu/wheels/*.whl 2>&1 | tail -1
[ "$device" = cuda ] && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$out/gpu.txt"
[ "$device" = cuda ] && $py - <<'PY' | tee -a "$out/gpu.txt"
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
# A stage's time limit: at most $1 seconds, and done $2 (default 40) seconds before the deadline, so the
# background jobs are stopped and the files packed in time. 0 when there is no time left for it.
limit() { local t=$(( $(left) - ${2:-40} )); [ "$t" -gt "$1" ] && t=$1; [ "$t" -gt 0 ] && echo "$t" || echo 0; }
background=()
for stage in $stages; do
case $stage in
tests)
  echo "== CUDA tests, each case in a process of its own ($(left) s left)"
  # Sessions 12 and 15 saw the compiled cnn-2 case hang in Inductor's backward compile after the ann-1 case
  # had compiled in the same process; in one process a hang would also stop every case after it.
  # Faulthandler prints each stuck case's stack after 90 s; TORCH_LOGS prints Dynamo's recompilations.
  outcome="PASSED|FAILED|SKIPPED|Timeout|: [0-9.]+ s$"  # on screen; the whole output goes to cuda-tests.txt
  while read -r case; do
    t=$(limit 150); [ "$t" -gt 0 ] || break  # the determinism case compiles twice from cold caches
    env -u TORCHINDUCTOR_COMPILE_THREADS TORCH_LOGS=recompiles timeout "$t" $py -m pytest "$case" -v -s \
        -p no:cacheprovider -W ignore < /dev/null 2>&1 | tee -a "$out/cuda-tests.txt" \
        | grep -E "$outcome"
  done < <($py -m pytest tests/test_cuda.py --collect-only -q -p no:cacheprovider 2>/dev/null | grep '::')
  # The pair that hung in one process, ann-1 then the compiled cnn-2: since session 16 each compiled run
  # starts with torch._dynamo.reset(), so cnn-2 no longer compiles with ann-1's symbolic batch size.
  # An empty Inductor cache: the solo case above cached cnn-2's static graphs, and a cache hit would
  # skip the compile workers, passing whatever the cause. The log shows whether cnn-2 compiled static.
  t=$(limit 150); echo "== ann-1, then the compiled cnn-2 case, in one process ($(left) s left, at most $t s)"
  [ "$t" -gt 0 ] && env -u TORCHINDUCTOR_COMPILE_THREADS TORCHINDUCTOR_CACHE_DIR="$(mktemp -d)" \
      TORCH_LOGS=recompiles,dynamic timeout "$t" $py -m pytest \
      "tests/test_cuda.py::test_cuda_run_in_bf16_scores_again_the_same[ann-1]" \
      tests/test_cuda.py::test_cuda_compiled_cnn_2_scores_again_the_same -v -s -p no:cacheprovider -W ignore \
      < /dev/null 2>&1 | tee -a "$out/cuda-tests.txt" | grep -E "$outcome"
  # If the compiled cnn-2 case hangs alone too, is it Inductor's pool of compile workers? Compile in-process.
  t=$(limit 120); echo "== the compiled cnn-2 case, compile threads 1 ($(left) s left, at most $t s)"
  [ "$t" -gt 0 ] && TORCHINDUCTOR_COMPILE_THREADS=1 timeout "$t" $py -m pytest tests/test_cuda.py -k compiled_cnn_2 \
      -v -s -p no:cacheprovider -W ignore 2>&1 | tee -a "$out/cuda-tests.txt" | grep -E "$outcome" ;;
fast)
  t=$(limit 150); echo "== fast: time to accuracy ($(left) s left, at most $t s)"
  [ "$t" -gt 0 ] && timeout "$t" $py benchmarks/time_to_accuracy.py fast --seeds 0 1 2 --target 0.94 --budget 60 \
      --device "$device" --reference-steps 0 "${set_flags[@]}" --json "$out/time-to-accuracy-fast-$device.json" 2>&1 \
      | grep -v Warning ;;
overhead)
  t=$(limit 240); echo "== overhead: a paper step eager, compiled, as one CUDA graph ($(left) s left, at most $t s)"
  # The graph before the compiled mode: compiling has hung here before (sessions 12 and 15). Put this stage
  # before ablation or reproduce, which run in the background, to have the GPU to itself.
  [ "$t" -gt 0 ] && timeout "$t" $py benchmarks/step_overhead.py ann-1 ann-3 cnn-2 --device "$device" \
      --modes eager graph compiled 2>&1 \
      | grep -v Warning | tee "$out/step-overhead-$device.txt" ;;
max)
  t=$(limit 100000 "${MAX_RESERVE_S:-20}"); echo "== max: time to accuracy, seed 0 ($(left) s left, at most $t s)"
  rm -f runs/time-to-accuracy-max.json  # only this call's result is copied back
  [ "$t" -gt 0 ] && timeout -s INT -k 15 "$t" $py benchmarks/time_to_accuracy.py max --seeds 0 --target 0.96 \
      --budget 7200 --device "$device" --reference-steps 0 --keep runs/max-cuda "${set_flags[@]}" \
      --json runs/time-to-accuracy-max.json 2>&1 | grep -v Warning
  cp runs/time-to-accuracy-max.json "$out/time-to-accuracy-max-$device.json" 2>/dev/null ;;
ablation)
  preset=${ABLATION_PRESET:-max}
  IFS=';' read -ra variants <<< "${ABLATION_VARIANTS:-base;muon optimizer=muon muon_lr=0.05 muon_momentum=0.6;ema ema=0.999}"
  variant_flags=()
  for v in "${variants[@]}"; do variant_flags+=(--variant "$v device=$device ${sets[*]}"); done
  echo "== ablation of $preset: ${#variants[@]} variants in the background ($(left) s left)"
  read -ra seeds <<< "${ABLATION_SEEDS:-0 1}"
  setsid $py benchmarks/recipe_ablation.py "$preset" --seeds "${seeds[@]}" --jobs "${ABLATION_JOBS:-6}" --threads 4 \
      --keep "runs/ablation-$preset" --out "runs/ablation-$preset.jsonl" "${variant_flags[@]}" \
      >> "runs/ablation-$preset.txt" 2>&1 &
  background+=($!) ;;
reproduce)
  echo "== reproduce, full length, 6 jobs ($(left) s left)"
  setsid $py -m fashionlab reproduce --out runs/gpu-full-length --device "$device" --jobs 6 --quiet "${set_flags[@]}" \
      > "$out/reproduce.txt" 2>&1 &
  background+=($!) ;;
esac
done
running() { for pid in "${background[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done; return 1; }
while [ ${#background[@]} -gt 0 ] && running && [ "$(left)" -gt 25 ]; do sleep 2; done
if [ ${#background[@]} -gt 0 ] && running; then  # all at once: each gets the same time to checkpoint
  echo "deadline: interrupting the background jobs"
  for pid in "${background[@]}"; do kill -INT -- -"$pid" 2>/dev/null; done
  sleep 10
  for pid in "${background[@]}"; do kill -KILL -- -"$pid" 2>/dev/null; done
fi
for pid in "${background[@]}"; do wait "$pid"; echo "background job $pid exit $?"; done
for log in runs/ablation-*.txt; do [ -f "$log" ] && grep -v Warning "$log" | tail -8; done
# Multi-crop TTA on each finished ablation run's validation images (session 14: `evaluate --split validation`),
# all at once (each is mostly start-up), each printed whole at the end.
t=$(limit 90 20); mkdir -p runs/tta; rm -f runs/tta/*
[ "$t" -gt 0 ] && for run in runs/ablation-*/*/; do
  for shift in 0 1; do
    [ -f "$run/weights.pt" ] && [ "$t" -gt 0 ] || continue
    name=$(basename "$(dirname "$run")")-$(basename "$run")-shift$shift
    # the accuracy line, and whether the run's own tta_shift (1 for max since session 18) agrees with history.csv
    { echo "$run tta_shift $shift:"
      timeout -k 5 "$t" $py -m fashionlab evaluate "$run" --split validation --tta-shift $shift --device "$device" 2>&1 \
        | grep -v Warning | grep -E "^validation accuracy|agrees|DISAGREES|compared|error"; } > "runs/tta/$name.txt" &
  done
done
wait
ls runs/tta/*.txt >/dev/null 2>&1 && cat runs/tta/*.txt | tee runs/ablation-tta.txt
# The runs' small files (never weights or checkpoints), for docs/results; the ablations' .jsonl and .txt too.
tar czf "$out/runs-small-files.tgz" --exclude='*.pt' --exclude='*.png' runs 2>/dev/null
ls -la "$out"
