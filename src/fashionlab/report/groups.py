"""What a report shows as one entry, and what it calls it.

Runs that differ only by their seed (same config otherwise, same kind, release and precision)
form a seed group: one entry, shown as mean ± standard deviation with its n. Every entry gets a
label no other entry has: the run's `label` (config or metrics) if it has one, else its experiment
name; where two entries would share one, the end of their folder paths, as short as tells them
apart (`quick/cnn-2`, `cnn2-short (cnn-2)`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..experiment import non_default_values
from ..runs import RunRecord


@dataclass
class Entry:
    """One run, or the runs of one seed group, as a report shows them."""

    label: str
    records: list[RunRecord]

    @property
    def n(self) -> int:
        return len(self.records)

    @property
    def first(self) -> RunRecord:
        return self.records[0]

    @property
    def seeds(self) -> list:
        return [seed_of(r) for r in self.records]

    def run_label(self, record: RunRecord) -> str:
        """A member's own label: the entry's, with its seed when the entry is a group."""
        return f"{self.label} · seed {seed_of(record)}" if self.n > 1 else self.label


def seed_of(record: RunRecord):
    return record.config.get("seed", record.environment.get("seed"))


def given_label(record: RunRecord) -> str | None:
    """The label the user gave the run (`train --label`), if any."""
    label = record.config.get("label") or record.metrics.get("label")
    return str(label) if label else None


def _setting(record: RunRecord) -> str:
    """Everything that must match for runs to be seeds of one setting."""
    # Default values left out: a run saved before a key existed matches one saved with its default.
    config = {k: v for k, v in non_default_values(record.config).items() if k != "seed"}
    return json.dumps([config, record.kind, record.release, record.environment.get("precision")],
                      sort_keys=True, default=str)


def group_runs(records: list[RunRecord]) -> list[Entry]:
    """Entries in the order their first run was given; runs of one setting with distinct seeds are grouped.

    Two runs of one setting with the same seed are not seeds of anything (a rerun, or one folder
    given twice): they stay apart, told apart by their folders.
    """
    by_setting: dict[str, list[RunRecord]] = {}
    for record in records:
        by_setting.setdefault(_setting(record), []).append(record)
    groups: list[list[RunRecord]] = []
    for members in by_setting.values():
        seeds = [seed_of(r) for r in members]
        if len(members) > 1 and None not in seeds and len(set(map(str, seeds))) == len(seeds):
            groups.append(members)
        else:
            groups.extend([r] for r in members)
    groups.sort(key=lambda members: records.index(members[0]))
    bases = [given_label(g[0]) or g[0].name for g in groups]
    folders = [Path(os.path.commonpath([os.path.abspath(r.path) for r in g])) if len(g) > 1
               else Path(os.path.abspath(g[0].path)) for g in groups]
    return [Entry(label, members) for label, members in zip(unique_labels(bases, folders, [g[0].name for g in groups]),
                                                            groups)]


def unique_labels(bases: list[str], folders: list[Path], names: list[str]) -> list[str]:
    """`bases`, where those that collide are replaced by the shortest end of each one's path that no other has.

    A path end that does not contain the experiment name gets it in brackets, so that a legend
    still says what was trained.
    """
    labels = list(bases)
    for base in set(bases):
        same = [i for i, b in enumerate(bases) if b == base]
        if len(same) < 2:
            continue
        parts = [folders[i].parts for i in same]
        for i, p in zip(same, parts):
            others = [q for q in parts if q is not p]
            # A tail that is only the name again ("cnn-2") tells nothing: one folder more ("quick/cnn-2").
            depth = next((d for d in range(1, len(p)) if all(q[-d:] != p[-d:] for q in others)
                          and "/".join(p[-d:]) != base), len(p))
            tail = "/".join(p[-depth:])
            labels[i] = tail if names[i] in tail else f"{tail} ({names[i]})"
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):  # still equal: one folder given twice
        seen[label] = seen.get(label, 0) + 1
        if labels.count(label) > 1:
            labels[i] = f"{label} #{seen[label]}"
    return labels
