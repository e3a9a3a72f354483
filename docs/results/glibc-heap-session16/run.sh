#!/usr/bin/env bash
# Session 16, on the 2-core AMD EPYC, nothing else running. One epoch of `max` and of `best` on the
# first 20,000 training images, trained by the engine before host_memory (BEFORE, a checkout of the
# commit before it) and after it (AFTER), alternating, 3 rounds; each run's history.csv and metrics.json
# are kept, so both the epoch's seconds and the numbers can be compared.
# Usage: BEFORE=/path/to/old/src AFTER=/path/to/new/src FASHIONLAB_DATA=... [PRESETS="max best"] ./run.sh
cd "$(dirname "$0")"
for round in 1 2 3; do
  for preset in ${PRESETS:-max best}; do
    for side in before after; do
      src=$BEFORE; [ "$side" = after ] && src=$AFTER
      out=epochs/$preset-$side-$round
      rm -rf "$out.tmp"
      PYTHONPATH=$src python -m fashionlab train "$preset" --set epochs=1 --set train_limit=20000 \
          --out "$out.tmp" --quiet > /dev/null 2>&1 || { echo "$out failed"; exit 1; }
      mkdir -p "$out" && cp "$out.tmp/history.csv" "$out.tmp/metrics.json" "$out" && rm -rf "$out.tmp"
      echo "$preset $side round $round: $(tail -1 "$out/history.csv" | cut -d, -f7) s, val_loss $(tail -1 "$out/history.csv" | cut -d, -f4)"
    done
  done
done
