"""`fashionlab ensemble`: average the test-set class probabilities of several finished runs.

Each member's predictions.csv already holds its probabilities for every test image (with its own
test-time augmentation), so an ensemble needs no model evaluation: it checks that the members
were tested on the same files (by md5), averages, and writes a run directory like any other.
"""

from __future__ import annotations

import numpy as np

from .data.releases import TEST_FILES
from .errors import UserError
from .evaluation import probability_metrics
from .fileio import entry_kind
from .runs import RunDir, environment_record, load_run, refuse_repeated_runs, write_scored_run


def _predictions(member):
    """A member's labels and probabilities, as many rows as its metrics.json counts test images: a
    truncated predictions.csv is named, not taken for the intact member it disagrees with."""
    labels, probabilities = member.run.read_predictions()
    expected = member.metrics.get("test_count")
    if isinstance(expected, int) and len(labels) != expected:
        raise UserError(f"{member.run.predictions}: a run file is damaged ({len(labels)} rows where metrics.json "
                        f"counts {expected} test images; truncated?).")
    classes = member.metrics.get("classes")  # checked as a list of names when present (runs._metrics_problem)
    if classes and probabilities.shape[1] != len(classes):
        raise UserError(f"{member.run.predictions}: a run file is damaged ({probabilities.shape[1]} probability "
                        f"columns where metrics.json names {len(classes)} classes).")
    return labels, probabilities


def ensemble(run_dirs, out, data_dir=None) -> dict:
    from .data import load_dataset

    if len(run_dirs) < 2:
        raise UserError("an ensemble needs at least two run directories.")
    seen = refuse_repeated_runs(run_dirs, "each member of an ensemble counts once")
    target = RunDir(out)
    kind = entry_kind(out)
    if kind not in (None, "a directory"):
        raise UserError(f"--out {out} is {kind}; write the ensemble to a new folder.")
    if target.path.resolve() in seen:
        raise UserError(f"--out {out} is one of the members; write the ensemble to a new folder.")
    if target.holds_files:
        raise UserError(f"--out {out} already holds files (a run?); write the ensemble to a new folder.")
    members = [load_run(p) for p in run_dirs]
    for member in members:
        if not member.environment["dataset"].get("checksums"):
            raise UserError(f"{member.run.environment}: records no checksums of its test files, so its predictions "
                            "cannot be matched with the others'.")
    first = members[0].environment["dataset"]
    for member in members[1:]:
        theirs = member.environment["dataset"]
        if any(theirs["checksums"].get(f) != first["checksums"].get(f) for f in TEST_FILES):
            raise UserError(f"{member.path} was tested on other files than {members[0].path} "
                            f"({theirs.get('release', 'an unnamed release')} against "
                            f"{first.get('release', 'an unnamed release')}); ensemble runs of one release.")
    labels, probabilities = _predictions(members[0])
    for member in members[1:]:
        their_labels, their_probabilities = _predictions(member)
        if not np.array_equal(labels, their_labels):
            raise UserError(f"{member.path}/predictions.csv lists other labels than {members[0].path}.")
        if their_probabilities.shape != probabilities.shape:  # as many rows (the labels agree): other classes
            raise UserError(f"{member.path}/predictions.csv has {their_probabilities.shape[1]} classes where "
                            f"{members[0].path} has {probabilities.shape[1]}; ensemble runs of one release.")
        probabilities = probabilities + their_probabilities
    probabilities /= len(members)

    dataset = load_dataset(members[0].config.get("release", "fashion-mnist"), data_dir)
    if any(dataset.checksums.get(f) != first["checksums"].get(f) for f in TEST_FILES):
        raise UserError(f"{dataset.data_dir} holds other test files than the members were scored on; pass --data-dir.")
    metrics = probability_metrics(probabilities, labels, dataset.classes)
    member_accuracy = {str(m.path): m.metrics["test_accuracy"] for m in members}
    metrics.update({
        "experiment": "ensemble", "model": "ensemble", "release": dataset.release,
        "members": member_accuracy,
        "gain_over_best_member": metrics["test_accuracy"] - max(member_accuracy.values()),
        "gain_over_mean_member": metrics["test_accuracy"] - float(np.mean(list(member_accuracy.values()))),
        "train_seconds": round(sum(m.metrics.get("train_seconds") or 0 for m in members), 3),
        "parameters": sum(m.metrics.get("parameters") or 0 for m in members),
        "classes": list(dataset.classes),
    })
    config = {"name": "ensemble", "description": f"mean probabilities of {len(members)} runs",
              "members": [str(m.path) for m in members]}
    environment = environment_record(members[0].environment.get("seed", 0), dataset)
    write_scored_run(RunDir(out), "ensemble", config, environment, metrics, probabilities, dataset,
                     title=f"ensemble of {len(members)} ({dataset.release})")
    return metrics
