# The max preset, seeds 0 and 1, sessions 5 and 6, each from a worktree at a fixed commit.
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26

# Seed 0, session 5, at commit 26c06e3 (max preset as committed there), machine otherwise quiet
# except for about 90 s of unit tests in the first six epochs (epoch 1 took 103 s, the others 65-80 s).
# Output: seed0.log, time-to-accuracy-max-seed0.json, seed-0/.
cd /work/fl-max && PYTHONPATH=/work/fl-max/src /work/main/.venv/bin/python benchmarks/time_to_accuracy.py max \
    --seeds 0 --target 0.96 --budget 7200 --keep /work/max-runs --json /work/max-runs/time-to-accuracy-max-seed0.json

# Seed 1, at commit bf18a26 (its code differs from 26c06e3 only in keys that max leaves off). The
# same command ran three times: session 5 stopped it with Ctrl-C at epoch 27 (seed1.log); session
# 6 resumed it and stopped it at epoch 28, batch 228 (seed1b.log), because one-thread step-time
# probes and a recipe study beside it had slowed that epoch to 402 s; the third run finished it
# on a quiet machine (seed1c.log, time-to-accuracy-max-seed1.json, seed-1/). Its time is the sum
# of its epochs plus the test evaluation.
cd /work/fl-max2 && PYTHONPATH=/work/fl-max2/src /work/main/.venv/bin/python benchmarks/time_to_accuracy.py max \
    --seeds 1 --target 0.96 --budget 7200 --keep /work/max-runs --json /work/max-runs/time-to-accuracy-max-seed1.json

# The median of both seeds, read back from their finished runs (no training, no reference
# workload): time-to-accuracy-2seeds.log, time-to-accuracy-max-2seeds.json. Session 6, commit ddc54b9.
cd /work/main && .venv/bin/python benchmarks/time_to_accuracy.py max --seeds 0 1 --target 0.96 --budget 7200 \
    --keep /work/max-runs --reference-steps 0 --json /work/max-runs/time-to-accuracy-max-2seeds.json

# Epoch times of both seeds, and seed 1's total with epoch 28 at its median epoch: epoch_times.txt.
python3 epoch_times.py
