"""`fashionlab reproduce`: the paper's six experiments, then one comparison report.

Restartable at any point: finished runs are skipped, an interrupted one resumes from its
checkpoint. `scale` multiplies every epoch count (at least 1 epoch each) for a quick look; the
report says so. `jobs` trains that many experiments at once, each in a process of its own: the
paper's small models leave a GPU mostly idle (and its host's cores too), so on a GPU machine
six processes side by side finish in the time of the longest one.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Callable

from .errors import UserError
from .experiment import load_config
from .fileio import atomic_write_text, missing_folders, remove_empty_folders
from .paper_results import PAPER_SOURCE
from .report.html import render_report
from .report.protocol import caveats
from .report.runs_table import comparison_rows, markdown_table, terminal_table
from .runs import RunDir, load_run
from .training import Interrupted, finished_already, train

PAPER_EXPERIMENTS = ("ann-1", "ann-2", "ann-3", "cnn-1", "cnn-2", "cnn-3")


@dataclass
class ReproduceResult:
    out: Path
    report: Path
    summary: Path
    table: str
    trained: list[str]
    skipped: list[str]


MAX_SCALE = 100.0  # 100x the paper's epochs is already 100,000 for ANN-1; beyond is a typo


def scaled_epochs(epochs: int, scale: float) -> int:
    return max(1, round(epochs * scale))


def _train_in_worker(config_dict: dict, path: str, data_dir, resume: bool, threads: int) -> str:
    """One experiment in a worker process (top level so that a spawned process can import it)."""
    import warnings

    import torch

    from .errors import one_line_warning
    from .experiment import config_from_dict

    warnings.formatwarning = one_line_warning  # as the CLI's own process prints them; spawn starts afresh
    torch.set_num_threads(threads)
    config = config_from_dict(config_dict)
    train(config, path, data_dir=data_dir, resume=resume, progress=False,
          log=lambda line: print(f"{config.name}: {line}", flush=True))
    return config.name


def reproduce(
    out: str | Path = "runs/reproduce",
    scale: float = 1.0,
    data_dir=None,
    overrides: dict | None = None,
    experiments=PAPER_EXPERIMENTS,
    progress: bool = True,
    log: Callable[[str], None] = print,
    jobs: int = 1,
) -> ReproduceResult:
    """Train each of `experiments` into `out`/NAME (skipping finished ones), then write the report and summary.

    `overrides` are config keys applied to every experiment, as `fashionlab train`'s flags and
    `--set` apply them (None values ignored); `epochs` comes from the preset and `scale`.
    """
    if not 0 < scale <= MAX_SCALE:  # also NaN; 1e308 would round to an infinite epoch count
        raise UserError(f"--scale must be a number in (0, {MAX_SCALE:g}] (1 is the paper's length), got {scale}.")
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    if "epochs" in overrides:
        raise UserError("reproduce sets every experiment's epochs from the paper's and --scale; give --scale instead.")
    if jobs < 1:
        raise UserError(f"--jobs must be 1 or more, got {jobs}.")
    out = Path(out)
    trained, skipped, pending = [], [], []
    for name in experiments:
        preset = load_config(name)
        config = load_config(name, {**overrides, "epochs": scaled_epochs(preset.epochs, scale)})
        run = RunDir(out / name)
        if finished_already(config, run.path):  # a finished run with other settings is refused there
            log(f"{name}: finished earlier, skipped ({run.path})")
            skipped.append(name)
            continue
        log(f"{name}: {config.epochs} epochs" + (f" (paper: {preset.epochs})" if config.epochs != preset.epochs else ""))
        pending.append((config, run))
    if jobs == 1:
        for config, run in pending:
            train(config, run.path, data_dir=data_dir, resume=run.checkpoint.is_file(), progress=progress, log=log)
            trained.append(config.name)
    elif pending:
        threads = max(1, (os.cpu_count() or 1) // min(jobs, len(pending)))
        made = missing_folders(out)  # each worker removes its own run folder when it fails, not `out` it shares
        queued, running, finished = list(pending), {}, {}
        interrupted = False
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            # Submitted one by one as workers free up: the pool hands a submitted call to a worker
            # at once, so after a Ctrl-C nothing queued would be left to cancel.
            while queued or running:
                while queued and not interrupted and len(running) < jobs:
                    config, run = queued.pop(0)
                    running[pool.submit(_train_in_worker, config.to_dict(), str(run.path), data_dir,
                                        run.checkpoint.is_file(), threads)] = config.name
                if not running:
                    break
                try:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                except KeyboardInterrupt:  # Ctrl-C reached the workers too: each checkpoints at its next batch
                    interrupted = True
                    continue
                for future in done:
                    finished[running.pop(future)] = future
        futures = [finished[config.name] for config, _ in pending if config.name in finished]
        not_started = [config.name for config, _ in queued]
        stopped = []
        for future in futures:
            try:
                trained.append(future.result())
            except Interrupted as stop:
                stopped.append(stop)
            except BaseException:
                remove_empty_folders(made)
                raise
        for stop in stopped[1:]:
            log(f"{stop.run_dir.name}: {stop}")
        if not_started:
            log(f"not started: {', '.join(not_started)}")
        if stopped:
            raise stopped[0]
        if not_started:
            raise KeyboardInterrupt

    records = [load_run(out / name) for name in experiments]
    how = [f"Made by `fashionlab reproduce --scale {scale:g}`: every epoch count multiplied by {scale:g}, "
           "at least 1 epoch each."] if scale != 1 else []
    report = render_report([r.path for r in records], out / "report.html",
                           title="fashionlab: the paper's six experiments, reproduced", notes=how)
    notes = how + caveats(records, lambda r: r.name)  # the report finds these itself, from the runs
    rows = comparison_rows(records)
    release = ", ".join(sorted({r.release for r in records}))
    summary_md = (
        f"# The paper's six experiments, reproduced\n\nDataset release: {release}. "
        f"Paper columns: {PAPER_SOURCE}, its reported values.\n\n"
        + "".join(f"> {n}\n\n" for n in notes) + markdown_table(rows) + "\n"
    )
    summary = out / "summary.md"
    atomic_write_text(summary, summary_md)
    return ReproduceResult(out, report, summary, terminal_table(rows), trained, skipped)
