"""Learning parity: one paper experiment in fashionlab and in the paper's stack (Keras 2), seed for seed.

For each seed, fashionlab trains the experiment for N epochs (fp32 by default, the paper's
precision) and `keras2_peer.py` trains the same layer list in tf_keras in a process of its own.
The script prints, per epoch, validation accuracy and loss as mean and standard deviation across
seeds for each stack, the gap between the means, and the gap in units of its standard error
(Welch), so "within seed noise" is a number, not an impression. Writes JSON and Markdown.

    python benchmarks/keras_parity.py cnn-2 --epochs 5 --seeds 0 1 2
    python benchmarks/keras_parity.py ann-2 --epochs 50 --seeds 0 1 2

Run on purpose, not in CI. Needs the `peer` extra and FASHIONLAB_DATA.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import gemm_gflops, machine_record  # noqa: E402


def fashionlab_run(experiment: str, epochs: int, seed: int, precision: str, train_limit: int, folder: Path) -> dict:
    from fashionlab.experiment import load_config
    from fashionlab.training import train

    config = load_config(experiment, {"epochs": epochs, "seed": seed, "precision": precision, "device": "cpu",
                                      "train_limit": train_limit or None})
    started = time.perf_counter()
    result = train(config, folder / f"fashionlab-{seed}", progress=False, log=lambda s: None)
    return {"engine": "fashionlab", "seed": seed, "history": result.history,
            "test_accuracy": result.metrics["test_accuracy"], "test_loss": result.metrics["test_loss"],
            "train_seconds": time.perf_counter() - started}


def keras_run(experiment: str, epochs: int, seed: int, precision: str, train_limit: int, folder: Path) -> dict:
    out = folder / f"keras-{seed}.json"
    cmd = [sys.executable, str(HERE / "keras2_peer.py"), "train", experiment, "--epochs", str(epochs),
           "--seed", str(seed), "--precision", precision, "--train-limit", str(train_limit), "--json", str(out)]
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())


def mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def compare(ours: list[dict], peer: list[dict], epochs: int) -> list[dict]:
    rows = []
    for e in range(epochs):
        row = {"epoch": e + 1}
        for metric in ("val_accuracy", "val_loss", "train_accuracy", "train_loss"):
            a = [r["history"][e][metric] for r in ours]
            b = [r["history"][e][metric] for r in peer]
            (ma, sa), (mb, sb) = mean_sd(a), mean_sd(b)
            se = math.sqrt(sa**2 / len(a) + sb**2 / len(b))
            row[metric] = {"fashionlab": [ma, sa], "keras": [mb, sb], "gap": ma - mb,
                           "gap_in_se": (ma - mb) / se if se > 0 else float("nan")}
        rows.append(row)
    return rows


def markdown(experiment: str, rows: list[dict], ours, peer, meta: dict) -> str:
    n = len(ours)
    lines = [f"# Keras parity: {experiment}, {meta['epochs']} epochs, seeds {meta['seeds']}, {meta['precision']}", "",
             f"fashionlab {meta['fashionlab']} (torch {meta['torch']}) against {peer[0]['engine']}; "
             f"release {peer[0]['release']}; {meta['machine']['processor']}, GEMM fp32 {meta['gemm_gflops_fp32']:.0f} GFLOP/s.",
             f"Mean ± sd over {n} seeds; gap = fashionlab − Keras; gap/se is the gap over its standard error.", "",
             "| epoch | val acc fashionlab | val acc Keras 2 | gap | gap/se | val loss fashionlab | val loss Keras 2 | gap | gap/se |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        a, l = r["val_accuracy"], r["val_loss"]
        lines.append(f"| {r['epoch']} | {a['fashionlab'][0]:.4f} ± {a['fashionlab'][1]:.4f} | {a['keras'][0]:.4f} ± {a['keras'][1]:.4f} "
                     f"| {a['gap']:+.4f} | {a['gap_in_se']:+.1f} | {l['fashionlab'][0]:.4f} ± {l['fashionlab'][1]:.4f} "
                     f"| {l['keras'][0]:.4f} ± {l['keras'][1]:.4f} | {l['gap']:+.4f} | {l['gap_in_se']:+.1f} |")
    ta, tb = mean_sd([r["test_accuracy"] for r in ours]), mean_sd([r["test_accuracy"] for r in peer])
    sa, sb = mean_sd([r["train_seconds"] for r in ours]), mean_sd([r["train_seconds"] for r in peer])
    worst = max(rows, key=lambda r: abs(r["val_accuracy"]["gap"]))
    lines += ["", f"Test accuracy after {meta['epochs']} epochs: fashionlab {ta[0]:.4f} ± {ta[1]:.4f}, "
                  f"Keras 2 {tb[0]:.4f} ± {tb[1]:.4f}.",
              f"Largest validation-accuracy gap: {worst['val_accuracy']['gap']:+.4f} at epoch {worst['epoch']} "
              f"({worst['val_accuracy']['gap_in_se']:+.1f} se).",
              f"Training time per seed: fashionlab {sa[0]:.0f} s, Keras 2 {sb[0]:.0f} s (run one after the other, "
              "not a throughput measurement)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", choices=["ann-1", "ann-2", "ann-3", "cnn-1", "cnn-2", "cnn-3"])
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--train-limit", type=int, default=0, help="train on the first N images (a quick check)")
    parser.add_argument("--out", default="docs/results/keras-parity", help="folder for NAME.json and NAME.md")
    args = parser.parse_args()
    if not os.environ.get("FASHIONLAB_DATA"):
        sys.exit("keras_parity: set FASHIONLAB_DATA to the Fashion-MNIST folder.")

    import torch

    import fashionlab

    meta = {"epochs": args.epochs, "seeds": args.seeds, "precision": args.precision, "train_limit": args.train_limit,
            "fashionlab": fashionlab.__version__, "torch": torch.__version__, "machine": machine_record(),
            "gemm_gflops_fp32": gemm_gflops("fp32")}
    ours, peer = [], []
    with tempfile.TemporaryDirectory(prefix="keras-parity-") as tmp:
        for seed in args.seeds:  # alternate the stacks, so drift in machine speed hits both alike
            ours.append(fashionlab_run(args.experiment, args.epochs, seed, args.precision, args.train_limit, Path(tmp)))
            print(f"seed {seed}: fashionlab val_acc {ours[-1]['history'][-1]['val_accuracy']:.4f}", flush=True)
            peer.append(keras_run(args.experiment, args.epochs, seed, args.precision, args.train_limit, Path(tmp)))
            print(f"seed {seed}: keras 2    val_acc {peer[-1]['history'][-1]['val_accuracy']:.4f}", flush=True)
    rows = compare(ours, peer, args.epochs)
    text = markdown(args.experiment, rows, ours, peer, meta)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.experiment}.json").write_text(json.dumps({"meta": meta, "rows": rows, "fashionlab": ours,
                                                             "keras": peer}, indent=1) + "\n")
    (out / f"{args.experiment}.md").write_text(text)
    print(f"wrote {out}/{args.experiment}.md and .json")


if __name__ == "__main__":
    main()
