#!/bin/sh
# Session 14, on the 2-core AMD EPYC with AVX512-BF16 (lscpu.txt), torch 2.14.1.
# 1. Training: `best` on a 10% validation split, seeds 0-3, two runs at once with one thread each, kept with
#    their weights in /work/study14/best-keep (run-best-val.sh, from a worktree at 13ab3d4; seeds 2 and 3
#    were started after 0 and 1 had finished). best-val.jsonl and best-val.log are its output; base-seedN/
#    holds each run's small files (never weights).
# 2. Scoring, with /work/main's code at 7ceaa7b and later (evaluate --split validation and --tta-shift), nothing
#    else running; for seeds 0 and 1 first, and again for all four once seeds 2 and 3 had finished:
export FASHIONLAB_DATA=/work/shared/datasets/fashion-mnist-2017-08-26 PYTHONPATH=/work/main/src
export PATH=/work/main/.venv/bin:$PATH  # its python and fashionlab
cd /work/study14
for s in 0 1 2 3; do for t in 0 1 2; do
  echo "best-keep/base-seed$s validation, tta_shift $t: $(fashionlab evaluate best-keep/base-seed$s --split validation --tta-shift $t 2>&1 | grep -E '^validation accuracy|agrees|compared' | tr '\n' ' ')"
done; done > tta-validation.txt
python tta_pairs.py best-keep/base-seed0 best-keep/base-seed1 best-keep/base-seed2 best-keep/base-seed3 > tta-pairs.txt
# 3. The test set, recorded after the choice was made on the validation split, never used for it:
for s in 0 1 2 3; do for t in 0 1; do
  echo "best-keep/base-seed$s test, tta_shift $t: $(fashionlab evaluate best-keep/base-seed$s --tta-shift $t 2>&1 | grep -E '^test accuracy|agrees|compared' | tr '\n' ' ')"
done; done > tta-test-recorded.txt
# 4. What tta_shift 1 costs to score (2 threads, quiet machine). This ran after seeds 0 and 1 finished and before
#    seeds 2 and 3 started, with the benchmarks folder on the path as /work/fl-s14/benchmarks (tta_cost.py's
#    committed copy names it relative to the repository root):
python tta_cost.py best-keep/base-seed0 > tta-cost.txt
