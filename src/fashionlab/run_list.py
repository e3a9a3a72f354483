"""`fashionlab runs [DIR]`: every run under a folder as one table, filtered and sorted.

It reads three small files per run (config.toml, environment.json, metrics.json, through
runs.run_overview) and imports neither PyTorch nor the models, so it answers at once on hundreds
of runs.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from dataclasses import asdict
from pathlib import Path

from .errors import UserError, did_you_mean
from .runs import RunOverview, find_runs, run_overview

# key (as --sort and --filter name it), header, format of a present value
COLUMNS = (
    ("name", "run", "{}"),
    ("model", "model", "{}"),
    ("release", "release", "{}"),
    ("precision", "precision", "{}"),
    ("epochs", "epochs", "{}"),
    ("train_count", "train images", "{:,}"),
    ("test_accuracy", "test acc", "{:.4f}"),
    ("train_seconds", "time", None),  # _duration
    ("started", "date", None),  # first 16 characters of the ISO time, UTC
)
# Also accepted by --sort and --filter, though not shown as columns.
EXTRA_KEYS = ("experiment", "label", "kind", "status")
KEYS = tuple(k for k, _, _ in COLUMNS) + EXTRA_KEYS
# The column headers work as keys too: --sort date, --filter 'test_acc>0.9'.
ALIASES = {"run": "name", "train_images": "train_count", "test_acc": "test_accuracy", "time": "train_seconds",
           "date": "started"}
NAMES = tuple(KEYS) + tuple(ALIASES)
_FILTER = re.compile(r"^\s*([A-Za-z_]+)\s*(!=|>=|<=|=|>|<)\s*(.*?)\s*$")


def _key(name: str, where: str) -> str:
    if name not in NAMES:
        raise UserError(f"{where}: unknown key {name!r}.{did_you_mean(name, NAMES)} Keys: {', '.join(NAMES)}.")
    return ALIASES.get(name, name)


def _value(row: RunOverview, key: str):
    return row.status if key == "status" else getattr(row, key)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{minutes:.1f} min" if minutes < 10 else f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"


def _cell(row: RunOverview, key: str, fmt: str | None) -> str:
    value = _value(row, key)
    if key == "train_seconds":
        return _duration(value)
    if key == "started":
        return value[:16].replace("T", " ") if value else "-"
    if key == "name" and row.label:
        return f"{value} ({row.label})"
    return "-" if value is None or value == "" else fmt.format(value)


def parse_filter(text: str):
    """`KEY=PATTERN` (a glob, case-insensitive), `KEY!=PATTERN`, or `KEY>X`, `KEY>=X`, `KEY<X`, `KEY<=X` for numbers."""
    match = _FILTER.match(text)
    if not match:
        raise UserError(f"--filter {text!r}: give KEY=VALUE (or !=, >, >=, <, <=), e.g. --filter model=cnn-2.")
    key, op, wanted = match.groups()
    key = _key(key, f"--filter {text!r}")
    if op in ("=", "!="):
        def test(row):
            value = _value(row, key)
            hit = fnmatch.fnmatchcase("" if value is None else str(value).lower(), wanted.lower())
            return hit if op == "=" else not hit
        return test
    try:
        bound = float(wanted)
    except ValueError:
        raise UserError(f"--filter {text!r}: {op} needs a number, e.g. --filter 'test_acc>0.9'.") from None
    compare = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}[op]

    def test(row):
        value = _value(row, key)
        # int against float compares exactly: float(value) would overflow on a damaged file's 400-digit count
        return isinstance(value, (int, float)) and not isinstance(value, bool) and compare(value, bound)
    return test


def list_runs(root, filters=(), sort: str = "started", descending: bool = False) -> list[RunOverview]:
    """The runs under `root` that pass every filter, sorted by `sort` (runs without that value last)."""
    sort = _key(sort, f"--sort {sort!r}")
    tests = [parse_filter(f) for f in filters]
    rows = [run_overview(path, Path(root)) for path in find_runs(root)]
    rows = [row for row in rows if all(test(row) for test in tests)]
    present = [r for r in rows if _value(r, sort) not in (None, "")]
    missing = [r for r in rows if _value(r, sort) in (None, "")]
    present.sort(key=lambda r: (_value(r, sort), r.name), reverse=descending)
    return present + sorted(missing, key=lambda r: r.name)


def format_table(rows: list[RunOverview]) -> str:
    table = [[header for _, header, _ in COLUMNS]]
    table += [[_cell(row, key, fmt) for key, _, fmt in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    numeric = {"epochs", "train_count", "test_accuracy", "train_seconds"}
    return "\n".join(
        "  ".join(c.rjust(w) if key in numeric else c.ljust(w) for c, w, (key, _, _) in zip(line, widths, COLUMNS)).rstrip()
        for line in table
    )


def as_json(rows: list[RunOverview]) -> list[dict]:
    return [{**asdict(row), "path": str(row.path), "status": row.status} for row in rows]
