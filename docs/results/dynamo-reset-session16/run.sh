#!/usr/bin/env bash
# Session 16, on the 2-core AMD EPYC: the Dynamo frame shared across compiled models, with and without
# training's per-run torch._dynamo.reset(). Keeps the lines that say on which frame a graph compiled,
# why it recompiled, which sizes were made symbolic, and where Dynamo hit its recompile limit.
# The logs were written before the same session's fix of the compiled NumPy dropout: cnn-2's dropout
# frames (layers.py) recompile less since, and no longer reach the limit.
cd "$(dirname "$0")"
for mode in --no-reset --reset; do
  OMP_NUM_THREADS=1 TORCH_LOGS=recompiles,dynamic python two_models.py $mode 2>&1 \
    | grep -E "^(ann-1|cnn-2):|Recompiling function|expected|recompile_limit|last reason|\\] - [0-9]|marking L\\['args'\\]|create_symbol s[0-9]+ = [0-9]+ for L\\['args'\\]" \
    | sed -E 's/^[VIW][0-9]{4} [0-9:.]+ [0-9]+ //' | cut -c1-220 > "log${mode}.txt"
done
