"""Finished runs' numbers side by side (HTML, Markdown, terminal); runs.load_run reads them.

One row per report entry (report.groups): a run, or a seed group whose numbers are the mean ±
sample standard deviation over its n runs. The paper's values stand in a row only where the run
followed the paper's protocol (report.protocol); elsewhere they are marked not comparable.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from ..runs import RunRecord
from .groups import Entry, group_runs
from .protocol import epochs_run, paper_comparable, paper_values, train_images, validated_epochs

COLUMNS = [
    # key, header, format
    ("label", "run", "{}"),
    ("name", "experiment", "{}"),
    ("n", "n", "{}"),
    ("train_images", "train images", "{:,}"),
    ("epochs", "epochs", "{}"),
    ("precision", "precision", "{}"),
    ("parameters", "parameters", "{:,}"),
    ("final_val_accuracy", "final val acc", "{:.4f}"),
    ("best_val_accuracy", "best val acc", "{:.4f}"),
    ("final_val_loss", "final val loss", "{:.4f}"),
    ("best_val_loss", "best val loss", "{:.4f}"),
    ("test_accuracy", "test acc", "{:.4f}"),
    ("test_loss", "test loss", "{:.4f}"),
    ("train_seconds", "train time (s)", "{:,.0f}"),
    ("paper_val_accuracy", "paper val acc", "{:.2f}"),
    ("paper_val_loss", "paper val loss", "{:.2f}"),
]
PAPER_KEYS = ("paper_val_accuracy", "paper_val_loss")
NOT_COMPARABLE = "*"  # after a paper value that stands beside a run not at the paper's protocol
NOT_COMPARABLE_NOTE = (f"{NOT_COMPARABLE} the paper's value, not comparable: this run did not follow the paper's "
                       "protocol (all epochs, all training images, the preset's settings).")
BEST_VAL_KEYS = ("best_val_accuracy", "best_val_loss")
SPARSE = "†"  # after a best validation figure taken over some of the run's epochs only (validation_freq > 1)
SPARSE_NOTE = (f"{SPARSE} best over the validated epochs only (validation_freq above 1): a best of fewer epochs "
               "than a run validated after every epoch.")


MEASURED = ("final_val_accuracy", "best_val_accuracy", "final_val_loss", "best_val_loss", "test_accuracy", "test_loss",
            "train_seconds")  # what seeds change: a group shows mean ± sd of these


@dataclass(frozen=True)
class Stat:
    """A seed group's value: mean and sample standard deviation over n runs."""

    mean: float
    sd: float
    n: int


def _values(record: RunRecord) -> dict:
    m = record.metrics
    paper = paper_values(record)
    return {
        "name": record.name,
        "train_images": train_images(record),
        "epochs": epochs_run(record) or None,  # baselines and ensembles have no epochs
        "precision": record.environment.get("precision"),
        "parameters": m.get("parameters"),
        **{k: m.get(k) for k in MEASURED},
        "paper_val_accuracy": paper.get("val_accuracy"),
        "paper_val_loss": paper.get("val_loss"),
        "paper_comparable": paper_comparable(record),
        "sparse_validation": validated_epochs(record) < epochs_run(record),
    }


def _combine(key: str, values: list):
    """A group's value: mean ± sd of what was measured; a setting all runs share as it is; else mean ± sd or None."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if key not in MEASURED and all(v == values[0] for v in values):
        return values[0]
    return Stat(statistics.fmean(values), statistics.stdev(values), len(values)) if numbers else None


def entry_row(entry: Entry) -> dict:
    each = [_values(r) for r in entry.records]
    if len(each) == 1:
        row = dict(each[0])
    else:
        row = {key: _combine(key, [v[key] for v in each]) for key in each[0]}
    row["paper_comparable"] = all(v["paper_comparable"] for v in each)
    row["sparse_validation"] = any(v["sparse_validation"] for v in each)
    row.update(label=entry.label, n=entry.n)
    return row


def comparison_rows(records: list[RunRecord]) -> list[dict]:
    """One row per entry of `records` (seed groups as one row)."""
    return [entry_row(e) for e in group_runs(records)]


def columns(rows: list[dict]) -> list[tuple[str, str, str]]:
    """COLUMNS without those that say nothing here: the experiment where every run is labelled by it, n where all are 1."""
    hidden = set()
    if all(row["label"] == row["name"] for row in rows):
        hidden.add("name")
    if all(row["n"] == 1 for row in rows):
        hidden.add("n")
    if all(row[k] is None for row in rows for k in PAPER_KEYS):
        hidden.update(PAPER_KEYS)
    return [c for c in COLUMNS if c[0] not in hidden]


def cell(value, fmt: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, Stat):
        return f"{fmt.format(value.mean)} ± {fmt.format(value.sd)}"
    return fmt.format(value)


def sparse_best(row: dict, key: str) -> bool:
    """Whether this cell is a best validation figure over some of the epochs only."""
    return key in BEST_VAL_KEYS and row[key] is not None and row["sparse_validation"]


def row_cell(row: dict, key: str, fmt: str) -> str:
    """A row's cell as text, a paper value marked when the run is not at the paper's protocol, a best
    validation figure marked when the run did not validate after every epoch."""
    text = cell(row[key], fmt)
    if key in PAPER_KEYS and row[key] is not None and not row["paper_comparable"]:
        text += NOT_COMPARABLE
    if sparse_best(row, key):
        text += SPARSE
    return text


def _footnotes(rows: list[dict]) -> list[str]:
    marked = any(row[k] is not None and not row["paper_comparable"] for row in rows for k in PAPER_KEYS)
    notes = [NOT_COMPARABLE_NOTE] if marked else []
    if any(sparse_best(row, k) for row in rows for k in BEST_VAL_KEYS):  # columns() never hides these
        notes.append(SPARSE_NOTE)
    if any(row["n"] > 1 for row in rows):
        notes.append("a ± b: mean and sample standard deviation over the n seeds of a group.")
    return notes


def markdown_table(rows: list[dict]) -> str:
    shown = columns(rows)
    lines = ["| " + " | ".join(h for _, h, _ in shown) + " |", "|" + "---|" * len(shown)]
    for row in rows:
        lines.append("| " + " | ".join(row_cell(row, k, f) for k, _, f in shown) + " |")
    return "\n".join(lines + [""] + _footnotes(rows)).rstrip("\n")


def terminal_table(rows: list[dict]) -> str:
    shown = columns(rows)
    table = [[h for _, h, _ in shown]] + [[row_cell(row, k, f) for k, _, f in shown] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(shown))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in table]
    return "\n".join(lines + _footnotes(rows))
