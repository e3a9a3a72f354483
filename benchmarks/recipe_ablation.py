"""Measure a recipe's variants on a held-out validation split: the test set is never used for choices.

Run on purpose (not in CI). Each variant is a tag and config overrides; each is trained once per
seed with `validation_split` held out (10% by default, 6,000 images: a standard error of about
0.3 points at 94%) and appended as one JSON line to `--out`, so an interrupted study continues
where it stopped. The final validation accuracy is what to compare; test accuracy is recorded
for the README's later report only. `--jobs 2 --threads 1` trains two variants at once on a
2-core machine (accuracy does not depend on it; the times then are not wall times to quote).
Each finished epoch prints one line. With `--keep DIR` the runs train into DIR/TAG-seedN instead
of a temporary folder, so a study stopped mid-run (Ctrl-C, a killed job) resumes that run from its
last checkpoint when started again with the same arguments.

    python benchmarks/recipe_ablation.py fast --seeds 0 1 --out ablation.jsonl \\
        --variant base --variant "ema ema=0.99" --variant "tta tta_shift=1"
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def train_variant(preset: str, tag: str, sets: list[str], seed: int, split: float, threads: int, data_dir,
                  keep: Path | None) -> dict:
    from fashionlab.experiment import load_config, parse_assignment
    from fashionlab.runs import RunDir
    from fashionlab.training import train

    overrides = dict(parse_assignment(text) for text in sets)
    config = load_config(preset, {"validation_split": split, "threads": threads, **overrides, "seed": seed})

    def report(row: dict) -> None:
        scored = "-" if row["val_accuracy"] is None else f"{row['val_accuracy']:.4f}"  # None: validation_freq > 1
        print(f"{tag} seed {seed}: epoch {row['epoch']}/{config.epochs} validation {scored} ({row['seconds']:.0f} s)",
              flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir(keep / f"{tag}-seed{seed}" if keep else Path(tmp) / "run")
        if run.is_complete:  # finished, but stopped before its line was appended
            m = run.read_metrics()
        else:
            m = train(config, run.path, data_dir=data_dir, resume=run.checkpoint.is_file(), progress=False,
                      log=lambda s: None, on_epoch=report).metrics
    return {"tag": tag, "sets": sets, "seed": seed, "validation_split": split, "val": m["final_val_accuracy"],
            "val_loss": m["final_val_loss"], "test": m["test_accuracy"], "train_s": m["train_seconds"],
            "wall_s": m["wall_seconds"], "threads": threads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset")
    parser.add_argument("--variant", action="append", required=True, metavar='"TAG [KEY=VALUE ...]"')
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--validation-split", type=float, default=0.1)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="threads per job (0: PyTorch's default)")
    parser.add_argument("--data-dir", default=os.environ.get("FASHIONLAB_DATA"))
    parser.add_argument("--out", required=True, help="JSON lines, appended; finished (tag, seed) pairs are skipped")
    parser.add_argument("--keep", type=Path, help="train into DIR/TAG-seedN and resume a run stopped midway")
    args = parser.parse_args()

    out = Path(args.out)
    done = [json.loads(line) for line in out.read_text().splitlines()] if out.is_file() else []
    finished = {(r["tag"], r["seed"]) for r in done}
    variants = [(text.split()[0], text.split()[1:]) for text in args.variant]
    # Seed-major, so that an interrupted study leaves every variant with the same seeds (paired).
    todo = [(tag, sets, seed) for seed in args.seeds for tag, sets in variants if (tag, seed) not in finished]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(train_variant, args.preset, tag, sets, seed, args.validation_split, args.threads,
                               args.data_dir, args.keep) for tag, sets, seed in todo]
        for future in futures:
            row = future.result()
            done.append(row)
            with out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"{row['tag']:<16} seed {row['seed']}: validation {row['val']:.4f}", flush=True)
    for tag, _ in variants:
        rows = [r for r in done if r["tag"] == tag]
        if rows:
            print(f"{tag:<16} validation mean {statistics.mean(r['val'] for r in rows):.4f} over seeds "
                  f"{', '.join(str(r['seed']) for r in rows)} ({', '.join(format(r['val'], '.4f') for r in rows)})")


if __name__ == "__main__":
    main()
