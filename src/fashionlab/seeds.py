"""`fashionlab train EXPERIMENT --seeds 0 1 2`: one experiment over several seeds, and their summary.

Each seed trains into OUT/seed-N (a normal run directory); OUT/seeds.json (written by runs.py)
holds every metric's mean, sample standard deviation and n, the per-class accuracies likewise,
and the per-epoch mean and sd of the learning curves, for reports to draw bands. Started again,
it skips finished seeds and resumes an interrupted one, as `reproduce` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import UserError
from .experiment import ExperimentConfig, config_from_dict
from .runs import RunRecord, load_run, refuse_seed_summary_in_the_way, seed_run_dir, write_seed_summary
from .training import train_unless_done

# The metrics.json numbers summarised over seeds (those a run lacks are left out).
SUMMARY_METRICS = ("test_accuracy", "test_loss", "macro_f1", "best_val_accuracy", "best_val_loss",
                   "final_val_accuracy", "final_val_loss", "final_train_accuracy", "final_train_loss",
                   "train_seconds", "best_epoch")
CURVES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


@dataclass
class SeedsResult:
    out: Path
    summary_path: Path
    summary: dict
    trained: list[int]
    skipped: list[int]


def mean_sd(values: list[float]) -> dict:
    """Mean, sample standard deviation (n - 1; None for one value) and n."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return {"mean": mean, "sd": sd, "n": n, "values": values}


def _epoch_stats(values: list) -> dict:
    """mean_sd of one epoch's figure over the seeds; None if a seed left that epoch unvalidated (validation_freq)."""
    return mean_sd(values) if None not in values else {"mean": None, "sd": None}


def check_seeds(seeds) -> list[int]:
    seeds = list(seeds)
    if not seeds:
        raise UserError("--seeds: give one or more seeds, e.g. --seeds 0 1 2.")
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds {' '.join(map(str, seeds))}: a seed is given twice; give each seed once.")
    for seed in seeds:
        config_from_dict({"seed": seed}, f"--seeds {seed}")  # the schema's range for seed
    return seeds


def summarize_seeds(records: list[RunRecord], seeds: list[int]) -> dict:
    first = records[0]
    summary = {
        "experiment": first.name, "model": first.config.get("model"), "release": first.release,
        "precision": first.environment.get("precision"), "seeds": seeds, "n": len(records),
        "runs": [r.path.name for r in records],
        "metrics": {key: mean_sd([float(r.metrics[key]) for r in records])
                    for key in SUMMARY_METRICS if all(r.metrics.get(key) is not None for r in records)},
        "per_class_accuracy": {name: mean_sd([float(r.metrics["per_class"][name]["accuracy"]) for r in records])
                               for name in first.metrics.get("per_class", {})},
    }
    epochs = min(len(r.history) for r in records)  # early stopping may end seeds at different epochs
    summary["history"] = [
        {"epoch": e + 1, **{f"{key}_{stat}": _epoch_stats([r.history[e][key] for r in records])[stat]
                            for key in CURVES for stat in ("mean", "sd")}}
        for e in range(epochs)
    ]
    return summary


def train_seeds(config: ExperimentConfig, seeds, out: str | Path, data_dir=None, progress: bool = True,
                log: Callable[[str], None] = print) -> SeedsResult:
    """Train `config` once per seed into OUT/seed-N (skipping finished ones), then write OUT/seeds.json."""
    seeds = check_seeds(seeds)
    out = Path(out)
    refuse_seed_summary_in_the_way(out)  # before training: a write that fails at the end would waste the seeds
    trained, skipped = [], []
    for seed in seeds:
        changes = {"seed": seed}
        if config.tensorboard:  # one TensorBoard folder per group: DIR/OUT-NAME/seed-N
            changes["tensorboard"] = str(Path(config.tensorboard) / out.resolve().name)
        seeded = config_from_dict({**config.to_dict(), **changes}, f"{config.name} with --seeds")
        log(f"seed {seed} ({len(trained) + len(skipped) + 1} of {len(seeds)}): {seed_run_dir(out, seed)}")
        done_now = train_unless_done(seeded, seed_run_dir(out, seed), data_dir=data_dir, progress=progress, log=log)
        (trained if done_now else skipped).append(seed)
    records = [load_run(seed_run_dir(out, seed)) for seed in seeds]
    summary = summarize_seeds(records, seeds)
    return SeedsResult(out, write_seed_summary(out, summary), summary, trained, skipped)


def format_summary(summary: dict) -> str:
    """The summary as a terminal table: metric, mean ± sd, n."""
    lines = [f"{summary['experiment']} over seeds {', '.join(map(str, summary['seeds']))} "
             f"(release {summary['release']}, precision {summary['precision']})",
             f"{'metric':<22}{'mean ± sd':>22}{'n':>4}"]
    for key, stats in summary["metrics"].items():
        digits = 1 if key in ("train_seconds", "best_epoch") else 4
        sd = "-" if stats["sd"] is None else f"{stats['sd']:.{digits}f}"
        lines.append(f"{key:<22}{stats['mean']:>13.{digits}f} ± {sd:<6}{stats['n']:>4}")
    return "\n".join(lines)
