"""What `deterministic = true` costs on the CPU: `fast` for 1 epoch on 20,000 training images, with the key
off and on in turn (3 rounds, so the machine's drift falls on both alike), and whether the numbers agree.

    FASHIONLAB_DATA=... python docs/results/deterministic-cpu-cost-session15/run.py > output.txt
"""

import os
import shutil
import statistics
import sys
import tempfile
import warnings
from pathlib import Path

root = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(root / "src"), str(root / "benchmarks")]
warnings.filterwarnings("ignore")

from machine import gemm_gflops  # noqa: E402

from fashionlab.experiment import load_config  # noqa: E402
from fashionlab.training import train  # noqa: E402

print(f"GEMM now: {gemm_gflops('fp32'):.0f} GFLOP/s fp32, {gemm_gflops('bf16'):.0f} bf16", flush=True)
seconds, histories = {False: [], True: []}, {}
scratch = Path(tempfile.mkdtemp())
for round_ in range(3):
    for deterministic in (False, True):
        out = scratch / f"{deterministic}-{round_}"
        config = load_config("fast", {"epochs": 1, "train_limit": 20_000, "device": "cpu", "deterministic": deterministic})
        result = train(config, out, data_dir=os.environ["FASHIONLAB_DATA"], progress=False, log=lambda s: None)
        seconds[deterministic].append(result.history[0]["seconds"])
        histories.setdefault(deterministic, []).append({k: v for k, v in result.history[0].items() if k != "seconds"})
        print(f"round {round_} deterministic={deterministic}: {result.history[0]['seconds']:.2f} s, "
              f"val_loss {result.history[0]['val_loss']:.6f}", flush=True)
shutil.rmtree(scratch)
off, on = statistics.median(seconds[False]), statistics.median(seconds[True])
print(f"median epoch: off {off:.2f} s, on {on:.2f} s, ratio {on / off:.3f}")
same = all(h == histories[False][0] for h in histories[False] + histories[True])
print(f"all six epochs' numbers identical: {same}")
