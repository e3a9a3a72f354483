"""Seed 1's epoch times, and its total with epoch 28 (run beside other work) at the median epoch."""
import csv
import json
import statistics
from pathlib import Path

here = Path(__file__).parent
for seed in (0, 1):
    seconds = [float(r["seconds"]) for r in csv.DictReader((here / f"seed-{seed}" / "history.csv").open())]
    metrics = json.loads((here / f"seed-{seed}" / "metrics.json").read_text())
    median = statistics.median(seconds)
    print(f"seed {seed}: {len(seconds)} epochs, sum {sum(seconds):.1f} s, median {median:.1f} s, "
          f"min {min(seconds):.1f} s, max {max(seconds):.1f} s (epoch {seconds.index(max(seconds)) + 1}); "
          f"test evaluation {metrics['test_eval_seconds']:.1f} s")
    if seed == 1:
        fixed = sum(seconds) - seconds[27] + median + metrics["test_eval_seconds"]
        print(f"seed 1 with epoch 28 at the median epoch: {fixed:.1f} s ({fixed / 60:.1f} min)")
