#!/usr/bin/env bash
# Two alternating rounds, each mode in a fresh process; output in output.txt. Nothing else running.
cd "$(dirname "$0")"
for round in 1 2; do
  for mode in numpy torchdrop; do
    python drop.py "$mode" 2>&1 | grep -E '^(GEMM|numpy|torchdrop)'
  done
done
