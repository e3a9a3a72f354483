"""What a run learnt from, and how it differs from its preset and from the paper's protocol.

Reports keep caveats with the numbers they belong to: a short run says that it is short (in
any report, not only `reproduce`'s), the paper's value stands beside a run only when the run
followed the paper's protocol, every run shows how many images it was fitted on, and a preset's
description is not left claiming "50 epochs" for a run of one.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..paper_results import PAPER_REPORTED
from ..runs import RunRecord, was_validated

FULL_TRAIN_SET = 60_000  # training images of every release fashionlab knows (the MNIST family)
# Config keys that change what a run learns; device, precision, batch sizes for evaluation, seed
# and the like do not make a run another protocol.
PROTOCOL_KEYS = ("model", "optimizer", "lr", "momentum", "weight_decay", "schedule", "warmup", "label_smoothing",
                 "tta_flip", "tta_shift", "batch_size", "validation_split", "augment", "flip", "alternate_flip", "zoom",
                 "shift", "random_erasing", "low_res_epochs", "low_res", "dirac_init", "whiten_init", "bn_bias_lr_scale",
                 "unit_norm_axis", "ema", "early_stopping_patience", "evaluate_weights")


@lru_cache(maxsize=None)
def _preset(name: str) -> dict | None:
    from ..experiment import load_config, preset_names

    return load_config(name).to_dict() if name in preset_names() else None


def preset_of(record: RunRecord) -> dict | None:
    """The preset a network run was made from (by its experiment name), as a config dict; else None."""
    return _preset(record.name) if record.kind == "network" else None


def epochs_run(record: RunRecord) -> int:
    return len(record.history)


def validated_epochs(record: RunRecord) -> int:
    """How many of its epochs scored the validation images: fewer than it ran when validation_freq > 1,
    so its best validation figures are a best of fewer epochs than a run validated every epoch."""
    return sum(1 for row in record.history if was_validated(row))


def train_images(record: RunRecord) -> int | None:
    """How many images the model was fitted on: a network's training split (its validation part
    held out), a baseline's training set; None for an ensemble (its members say)."""
    if record.metrics.get("train_count") is not None:
        return int(record.metrics["train_count"])
    if record.kind != "network":
        return None
    # Runs recorded before metrics.json kept train_count: data.validation_split's arithmetic.
    limit = record.config.get("train_limit") or FULL_TRAIN_SET
    return int(min(limit, FULL_TRAIN_SET) * (1.0 - record.config.get("validation_split", 0.2)))


def differences(record: RunRecord) -> list[str]:
    """How a network run differs from its preset, in words ('1 of 50 epochs'); [] when it does not or has none."""
    preset = preset_of(record)
    if preset is None:
        return []
    found = []
    if epochs_run(record) != preset["epochs"]:
        found.append(f"{epochs_run(record)} of {preset['epochs']} epochs")
    if record.config.get("train_limit"):
        found.append(f"first {record.config['train_limit']:,} training images only")
    found += [f"{key} {record.config[key]} (preset: {preset[key]})" for key in PROTOCOL_KEYS
              if key in record.config and record.config[key] != preset[key]]
    return found


def short_of_preset(record: RunRecord) -> tuple[int, int] | None:
    """(epochs run, the preset's epochs) for a run that stopped short of its preset; else None."""
    preset = preset_of(record)
    if preset and epochs_run(record) < preset["epochs"]:
        return epochs_run(record), preset["epochs"]
    return None


def paper_values(record: RunRecord) -> dict:
    """The paper's reported values for the run's experiment ({} when the paper has none)."""
    return PAPER_REPORTED.get(record.name, {}) if record.kind == "network" else {}


def paper_comparable(record: RunRecord) -> bool:
    """True when the run followed the paper's protocol: a paper experiment at its preset, all epochs, all images."""
    return bool(paper_values(record)) and preset_of(record) is not None and not differences(record)


def described(record: RunRecord) -> str:
    """The config's description, with an epoch count the run did not reach corrected ('1 of 50 epochs')."""
    text = str(record.config.get("description", ""))
    ran = epochs_run(record)
    if record.kind != "network" or not ran:
        return text

    def fix(match: re.Match) -> str:
        said = int(match.group(1).replace(",", ""))
        return match.group(0) if said == ran else f"{ran} of {match.group(1)} epochs"

    return re.sub(r"\b(\d[\d,]*) epochs?\b", fix, text)


def caveats(records: list[RunRecord], label_of) -> list[str]:
    """Notes a report shows above everything else; `label_of(record)` names a run (the seeds of a group
    may share one name: they share their settings, so the group is named once)."""
    notes = []
    short = _once([(label_of(r), s) for r in records if (s := short_of_preset(r))])
    if short:
        notes.append("Scaled or short run: fewer epochs than the preset: "
                     + ", ".join(f"{label} {ran} of {full} epochs" for label, (ran, full) in short)
                     + ". Its numbers are not comparable with full-length runs or with the paper's.")
    limited = _once([(label_of(r), r.config["train_limit"]) for r in records if r.config.get("train_limit")])
    if limited:
        notes.append("Trained on a subset (--train-limit): "
                     + ", ".join(f"{label} the first {n:,} training images" for label, n in limited)
                     + "; tested on the full test set.")
    sizes = {n for r in records if (n := train_images(r)) is not None}
    if len(sizes) > 1:
        notes.append(f"The runs learnt from different numbers of training images ({min(sizes):,} to {max(sizes):,}): "
                     "see the train images column before comparing them.")
    precisions = {r.environment.get("precision") for r in records if r.environment.get("precision")}
    if len(precisions) > 1:
        notes.append("The runs used different precisions (" + ", ".join(sorted(precisions))
                     + "): bf16 and fp32 give slightly different numbers.")
    return notes


def _once(items: list) -> list:
    return list(dict.fromkeys(items))
