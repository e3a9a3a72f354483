"""`fashionlab sweep`: Optuna studies over experiment-config keys, on one machine or many.

A sweep spec (TOML; shipped ones in `fashionlab/sweeps/`) names a base experiment, fixed config
keys (`[set]`), a search space over config keys (`[search.KEY]`: `choices`, or `low`/`high` with
optional `log` and `step`), a sampler (grid, random, TPE), a budget (trials and/or a time limit),
a validation objective and an optional pruner. Every choice and range end is validated by the
config schema before anything trains, and the test set is never an objective.

The study lives in an Optuna storage: by default an SQLite file in the sweep folder, or any
database URL (`--storage`), which any number of workers on any number of machines share. Each
worker loops: fail the trials of dead workers (Optuna's heartbeat), ask for a trial, train it as
an ordinary run directory under SWEEP_DIR/trials/, report each epoch's validation figure to the
pruner, tell the result. It stops when the study's budget is spent.

The budget counts trial *slots*. A trial holds a slot until it finishes (complete, pruned or
failed); a failed trial that is retried hands its slot to its retry (a copy with the same
parameters, queued by Optuna's RetryHeartbeatStaleTrialCallback), and the retry continues the
failed trial's run directory from its checkpoint when it runs on the same machine. So a worker
killed mid-trial loses only that trial's current epoch, and the study still runs each slot once.
Two workers asking for the last slot at the same moment both get a trial; the later-numbered one
is closed at once, unrun, as FAIL with the user attribute `not_run` and holds no slot.

The sweep folder (this module owns it):

    sweep.json     the spec as resolved, the study name and the storage (password removed)
    study.db       the SQLite storage, when no --storage is given
    trials/NNNN/   one run directory per trial (runs.py owns these), named by trial number
    report.html    written by `fashionlab sweep` at the end and by `fashionlab report SWEEP_DIR`
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import threading
import time
import warnings
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable

from .errors import ConfigError, TrainingDiverged, UserError, did_you_mean
from .experiment import FIELDS, config_from_dict, load_config, non_default_values, parse_toml, read_config_text
from .fileio import atomic_write_json, missing_folders, remove_empty_folders
from .runs import RunDir, was_validated

# Validation figures a sweep may optimise, and their direction. The test set never chooses anything.
OBJECTIVES = {
    "best_val_accuracy": "maximize", "final_val_accuracy": "maximize",
    "best_val_loss": "minimize", "final_val_loss": "minimize",
}
SAMPLERS = ("grid", "random", "tpe")
PRUNERS = ("none", "median", "halving")
STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SWEEP_FILE = "sweep.json"
SQLITE_FILE = "study.db"
SPEC_ATTR = "fashionlab_spec"  # study user attribute: the spec every worker must share
DIVERGED_ATTR = "diverged"  # trial user attribute: why a trial's training diverged
NOT_RUN_ATTR = "not_run"  # trial user attribute of a trial closed unrun (see the module docstring)
MAX_RETRIES = 3  # a trial whose worker dies is retried this many times, then its slot is spent
MAX_FLOAT_STEPS = 1e12  # a float range's steps: (high - low) / step; 1e31 broke Optuna's suggest_float mid-sweep
MAX_GRID_POINTS = 1_000_000  # a grid sweep lists its points (Optuna's GridSampler too): beyond this, a mistyped range
# Spec keys: type, default, doc. `set` and `search` are tables, checked on their own.
SPEC_KEYS = {
    "name": (str, None, "the study's name (letters, digits, . _ -)"),
    "description": (str, "", "one line on the question the sweep asks"),
    "base": (str, None, "the base experiment: a preset name or a TOML config (relative to the spec)"),
    "objective": (str, "best_val_accuracy", f"one of {', '.join(OBJECTIVES)}"),
    "sampler": (str, "tpe", f"one of {', '.join(SAMPLERS)}"),
    "seed": (int, 0, "the sampler's seed"),
    "trials": (int, 0, "budget: trial slots in the study (default for a grid: the grid's size)"),
    "time_limit_minutes": (float, 0.0, "budget: each worker starts no trial after this many minutes; 0 is none"),
    "pruner": (str, "none", f"one of {', '.join(PRUNERS)}"),
    "pruner_startup_trials": (int, 5, "median pruner: trials that finish before any is pruned"),
    "pruner_warmup_epochs": (int, 1, "epochs every trial runs before it may be pruned"),
    "heartbeat_seconds": (int, 30, "a worker silent for twice this is taken for dead and its trial failed"),
}
DIMENSION_KEYS = ("choices", "low", "high", "log", "step")
NOT_SEARCHABLE = ("name", "description")  # the sweep names each trial's run itself


@dataclass(frozen=True)
class Dimension:
    """One searched config key: `choices`, or a `low`..`high` range (int or float as the schema says)."""

    key: str
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None

    @property
    def kind(self) -> type:
        return FIELDS[self.key].metadata["kind"]

    def suggest(self, trial):
        if self.choices is not None:
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind is int:
            return trial.suggest_int(self.key, self.low, self.high, step=self.step or 1, log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def grid_count(self) -> int | None:
        """How many values a grid visits, or None when the range is continuous (counted, not listed:
        an int range such as a seed's may hold 2**63 values)."""
        if self.choices is not None:
            return len(self.choices)
        if self.kind is int or self.step:
            return int(math.floor((self.high - self.low) / (self.step or 1) + 1e-9)) + 1
        return None

    def grid_values(self) -> list | None:
        """Every value a grid visits, or None when the range is continuous."""
        if self.choices is not None:
            return list(self.choices)
        if (count := self.grid_count()) is None:
            return None
        step = self.step or 1
        return [self.kind(round(self.low + i * step, 12)) for i in range(count)]

    def to_dict(self) -> dict:
        if self.choices is not None:
            return {"choices": list(self.choices)}
        out = {"low": self.low, "high": self.high, "log": self.log}
        if self.step:
            out["step"] = self.step
        return out


@dataclass
class SweepSpec:
    name: str
    description: str
    source: str  # where the spec came from, for messages
    base: str  # a preset name or an absolute path to a TOML config
    base_config: dict  # the base with [set] applied, validated
    fixed: dict  # [set]
    search: list[Dimension]
    objective: str = "best_val_accuracy"
    sampler: str = "tpe"
    seed: int = 0
    trials: int = 0
    time_limit_minutes: float = 0.0
    pruner: str = "none"
    pruner_startup_trials: int = 5
    pruner_warmup_epochs: int = 1
    heartbeat_seconds: int = 30

    @property
    def direction(self) -> str:
        return OBJECTIVES[self.objective]

    @property
    def worst_value(self) -> float:
        """What a trial that cannot be scored (a diverged run) counts as."""
        return math.inf if self.direction == "minimize" else -math.inf

    def grid(self) -> dict[str, list] | None:
        values = {d.key: d.grid_values() for d in self.search}
        return None if any(v is None for v in values.values()) else values

    def identity(self) -> dict:
        """What every worker of one study must agree on: the trials' configs and how they are chosen.

        The budget is not part of it: a later command may extend a finished sweep with --trials.
        """
        return {
            "base_config": self.base_config, "search": {d.key: d.to_dict() for d in self.search},
            "objective": self.objective, "sampler": self.sampler, "seed": self.seed, "pruner": self.pruner,
            "pruner_startup_trials": self.pruner_startup_trials, "pruner_warmup_epochs": self.pruner_warmup_epochs,
            "heartbeat_seconds": self.heartbeat_seconds,
        }

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "base": self.base, "set": self.fixed,
                "trials": self.trials, "time_limit_minutes": self.time_limit_minutes, **self.identity()}

    def trial_config(self, params: dict, name: str):
        return load_config(self.base, {**self.fixed, **params, "name": name})


# ---------------------------------------------------------------- the spec


def shipped_spec_names() -> list[str]:
    return sorted(p.name[: -len(".toml")] for p in resources.files("fashionlab.sweeps").iterdir()
                  if p.name.endswith(".toml"))


def load_spec(name_or_path: str, overrides: dict | None = None, trials: int | None = None) -> SweepSpec:
    """A shipped spec by name (`paper-ann`) or a TOML file, validated, with config `overrides` added
    to its [set] table and `trials` replacing its budget."""
    path = Path(name_or_path)
    if name_or_path in shipped_spec_names():
        source, folder = f"sweep {name_or_path}", None
        text = resources.files("fashionlab.sweeps").joinpath(f"{name_or_path}.toml").read_text(encoding="utf-8")
    elif path.suffix == ".toml" or path.exists():
        text = read_config_text(path)  # first: it names a missing file or a loop of links in one line
        source, folder = str(path), path.resolve().parent
    else:
        raise ConfigError(f"{name_or_path!r} is neither a shipped sweep nor a TOML file."
                          f"{did_you_mean(name_or_path, shipped_spec_names())} Shipped: {', '.join(shipped_spec_names())}.")
    values = parse_toml(text, source)
    changes = {k: v for k, v in (overrides or {}).items() if v is not None}
    if changes:
        if not isinstance(values.get("set", {}), dict):
            raise ConfigError(f"{source}: `set` must be a table of config keys ([set]).")
        values["set"] = {**values.get("set", {}), **changes}
    if trials is not None:
        values["trials"] = trials
    return spec_from_dict(values, source, folder)


def _spec_value(key: str, value, source: str):
    kind = SPEC_KEYS[key][0]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(f"{source}: {key} must be {kind.__name__}, got {type(value).__name__} {value!r}.")
    if kind is float and not (math.isfinite(value) and value >= 0):
        raise ConfigError(f"{source}: {key} must be a finite number >= 0, got {value!r}.")
    if kind is int and not 0 <= value <= 2**31 - 1:
        raise ConfigError(f"{source}: {key} must be in [0, 2**31 - 1], got {value!r}.")
    return value


def spec_from_dict(values: dict, source: str, folder: Path | None = None) -> SweepSpec:
    """Validate a parsed spec; `folder` is where a relative `base` path is looked for."""
    unknown = [k for k in values if k not in SPEC_KEYS and k not in ("set", "search")]
    if unknown:
        raise ConfigError(f"{source}: unknown key {unknown[0]!r}.{did_you_mean(unknown[0], [*SPEC_KEYS, 'set', 'search'])} "
                          f"Known keys: {', '.join(SPEC_KEYS)}, [set], [search.KEY].")
    spec = {k: _spec_value(k, values[k], source) if k in values else default
            for k, (_kind, default, _doc) in SPEC_KEYS.items()}
    for key in ("name", "base"):
        if spec[key] is None:
            raise ConfigError(f"{source}: `{key}` is missing ({SPEC_KEYS[key][2]}).")
    if not STUDY_NAME.fullmatch(spec["name"]):
        raise ConfigError(f"{source}: name {spec['name']!r} must be 1-100 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit.")
    objective = spec["objective"]
    if objective.startswith("test") or objective in ("macro_f1", "per_class"):
        raise ConfigError(f"{source}: objective {objective!r} is measured on the test set, and the test set never "
                          f"chooses anything. Use a validation figure: {', '.join(OBJECTIVES)}.")
    for key, choices in (("objective", OBJECTIVES), ("sampler", SAMPLERS), ("pruner", PRUNERS)):
        if spec[key] not in choices:
            raise ConfigError(f"{source}: {key} must be one of {', '.join(choices)}; got {spec[key]!r}."
                              f"{did_you_mean(spec[key], choices)}")
    if spec["heartbeat_seconds"] < 1:
        raise ConfigError(f"{source}: heartbeat_seconds must be >= 1, got {spec['heartbeat_seconds']}.")

    base = spec["base"]
    if folder is not None and not Path(base).is_absolute() and (folder / base).exists():
        base = str(folder / base)
    fixed = values.get("set", {})
    if not isinstance(fixed, dict):
        raise ConfigError(f"{source}: `set` must be a table of config keys ([set]).")
    if "name" in fixed:
        raise ConfigError(f"{source}: [set] name: the sweep names each trial's run itself; remove it.")
    try:
        base_values = load_config(base).to_dict()
    except ConfigError as exc:
        raise ConfigError(f"{source}: base: {exc}") from None
    base_config = config_from_dict({**base_values, **fixed}, f"{source}: [set]")  # the schema names the bad key

    search_table = values.get("search")
    if not isinstance(search_table, dict) or not search_table:
        raise ConfigError(f"{source}: no search space. Add a table per config key, e.g. "
                          '[search.lr] low = 1e-4, high = 0.1, log = true, or [search.optimizer] choices = ["adam", "sgd"].')
    search = [_dimension(key, table, f"{source}: [search.{key}]", base_config.to_dict(), fixed)
              for key, table in search_table.items()]

    sweep = SweepSpec(name=spec["name"], description=spec["description"], source=source, base=base,
                      base_config=base_config.to_dict(), fixed=fixed, search=search,
                      **{k: spec[k] for k in SPEC_KEYS if k not in ("name", "description", "base")})
    if sweep.sampler == "grid":
        counts = {d.key: d.grid_count() for d in search}
        if None in counts.values():
            continuous = next(key for key, count in counts.items() if count is None)
            raise ConfigError(f"{source}: [search.{continuous}] is a continuous range, which a grid cannot cover. "
                              "Give it `choices` or a `step`, or use sampler = \"random\" or \"tpe\".")
        size = math.prod(counts.values())
        if size > MAX_GRID_POINTS:
            raise ConfigError(f"{source}: the grid has {size:,} points, more than the {MAX_GRID_POINTS:,} a grid sweep "
                              "lists; narrow the ranges or widen their steps, or use sampler = \"random\" or \"tpe\".")
        if sweep.trials > size:
            raise ConfigError(f"{source}: trials = {sweep.trials}, but the grid has only {size} points; "
                              f"give at most {size} (or leave trials out).")
        sweep.trials = sweep.trials or size
    if not sweep.trials and not sweep.time_limit_minutes:
        raise ConfigError(f"{source}: no budget. Give trials = N and/or time_limit_minutes = M.")
    return sweep


def _dimension(key, table, where: str, base_values: dict, fixed: dict) -> Dimension:
    if key not in FIELDS:
        raise ConfigError(f"{where}: unknown config key {key!r}.{did_you_mean(key, FIELDS)} "
                          f"Known keys: {', '.join(FIELDS)}.")
    if key in NOT_SEARCHABLE:
        raise ConfigError(f"{where}: {key} cannot be searched; the sweep names each trial's run itself.")
    if key in fixed:
        raise ConfigError(f"{where}: {key} is also fixed in [set]; keep it in one of the two.")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table with `choices`, or `low` and `high`.")
    unknown = [k for k in table if k not in DIMENSION_KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}.{did_you_mean(unknown[0], DIMENSION_KEYS)} "
                          f"Known keys: {', '.join(DIMENSION_KEYS)}.")
    kind = FIELDS[key].metadata["kind"]

    def check(value):  # the config schema decides, with its own message naming the key
        return getattr(config_from_dict({**base_values, key: value}, where), key)

    if "choices" in table:
        if set(table) != {"choices"}:
            raise ConfigError(f"{where}: give `choices` or `low`/`high`, not both.")
        choices = table["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: choices is empty; list at least one value, e.g. choices = [32, 128].")
        checked = tuple(check(v) for v in choices)
        if len(set(checked)) != len(checked):
            raise ConfigError(f"{where}: choices lists a value twice ({list(choices)}).")
        return Dimension(key, choices=checked)
    if "low" not in table or "high" not in table:
        raise ConfigError(f"{where}: give `choices`, or both `low` and `high`.")
    if kind not in (int, float):
        raise ConfigError(f"{where}: {key} is {kind.__name__}, not a number; give `choices` instead of a range.")
    low, high = check(table["low"]), check(table["high"])
    log, step = table.get("log", False), table.get("step")
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log must be true or false, got {log!r}.")
    if not low < high:
        raise ConfigError(f"{where}: empty range: low ({low!r}) must be below high ({high!r}).")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log range needs low > 0, got {low!r}.")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not (step > 0 and math.isfinite(step)) \
                or (kind is int and not isinstance(step, int)):
            raise ConfigError(f"{where}: step must be a positive {kind.__name__}, got {step!r}.")
        if log:
            raise ConfigError(f"{where}: give `log` or `step`, not both (Optuna samples one or the other).")
        if step > high - low:
            raise ConfigError(f"{where}: empty range: step {step!r} is larger than high - low.")
        if kind is float and (high - low) / step > MAX_FLOAT_STEPS:  # Optuna's Decimal arithmetic fails past this
            raise ConfigError(f"{where}: step {step!r} cuts the range into more than {MAX_FLOAT_STEPS:.0e} steps; give "
                              "a larger step, or leave it out for a continuous range.")
        step = kind(step)
    return Dimension(key, low=low, high=high, log=log, step=step)


# ---------------------------------------------------------------- storage and study


def _optuna():
    try:
        import optuna
    except ImportError:
        raise UserError("`fashionlab sweep` needs Optuna: pip install 'fashionlab[sweep]'.") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own progress bar and lines say what happens
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # We run Optuna's heartbeat ourselves around ask/tell (see _heartbeat), so this warning is moot.
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    return optuna


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{(folder / SQLITE_FILE).resolve()}"


def public_url(url: str | None) -> str | None:
    """The storage URL without its password: what sweep.json and reports may show."""
    if url is None:
        return None
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    try:  # URL.set(password=None) would keep the password: None means "unchanged" there
        return make_url(url)._replace(password=None).render_as_string(hide_password=False)
    except sqlalchemy.exc.ArgumentError:
        return url  # not a URL: open_storage says so


def open_storage(url: str, heartbeat_seconds: int = 30, flag: str = "--storage", name: str | None = None):
    """An Optuna RDB storage with the heartbeat on and killed trials retried; errors name the flag
    and the URL, or `name` in their place."""
    optuna = _optuna()
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise UserError(f"{flag} {url!r} is not a database URL; give one such as "
                        "postgresql://USER:PASSWORD@HOST:5432/DB or sqlite:///study.db.") from None
    shown = name or f"{flag} {public_url(url)}"
    check = ("Check the disk's free space and that its folder is writable." if parsed.drivername.startswith("sqlite")
             else "Check that the server runs and the URL, user and password are right.")
    if parsed.drivername in ("postgresql", "postgres"):
        # The driver we install (psycopg 3), whichever one this SQLAlchemy takes by default.
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        _refuse_foreign_sqlite(Path(parsed.database), shown)
    engine_kwargs = {"connect_args": {"timeout": 60}} if parsed.drivername.startswith("sqlite") else {"pool_pre_ping": True}
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES, inherit_intermediate_values=True)
    for attempt in range(3):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_seconds,
                                              heartbeat_stale_trial_callback=retry)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            # Workers starting together on a new database race to create Optuna's tables; the
            # loser finds them made on its next try.
            if attempt == 2:
                raise UserError(f"{shown}: could not create Optuna's tables; run the command again.") from None
            time.sleep(1 + attempt)
        except sqlalchemy.exc.ArgumentError as exc:
            raise UserError(f"{shown}: not a usable database URL ({exc}).") from None
        except RuntimeError as exc:  # Optuna's check of the tables' schema: made by another Optuna version
            raise UserError(f"{shown}: {str(exc).strip().splitlines()[0]}") from None
        except ImportError as exc:
            raise UserError(f"{shown}: its database driver is not installed ({exc}). For PostgreSQL write "
                            "postgresql://... (psycopg 3, which pip install 'fashionlab[sweep]' brings).") from None
        except sqlalchemy.exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise UserError(f"{shown}: cannot open the database ({reason}). {check}") from None
    raise AssertionError("unreachable")


def _refuse_foreign_sqlite(path: Path, shown: str) -> None:
    """An existing SQLite file must be empty or an Optuna storage: Optuna would add its tables to any
    other database before failing on a table name they share (`studies`)."""
    import sqlite3

    if not path.is_file() or path.stat().st_size == 0:
        return  # a new database, or a path whose problem the connection names
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{shown}: {path} is not a usable SQLite database ({exc}); give a new file or an "
                        "Optuna storage.") from None
    if tables and "version_info" not in tables:
        raise UserError(f"{shown}: {path} is a database of something else (tables {', '.join(sorted(tables)[:5])}"
                        f"{', ...' if len(tables) > 5 else ''}), not an Optuna storage; give a new file.")


def _open_own_sqlite(folder: Path, heartbeat_seconds: int):
    """The sweep folder's own study.db. Errors name that file, not --storage (none was given), and a
    file or folder this call made and could not use (a full disk, say) is removed again."""
    made_folders = missing_folders(folder)
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / SQLITE_FILE
    made_db = not db.exists()
    try:
        return open_storage(sqlite_url(folder), heartbeat_seconds, name=str(db))
    except UserError:
        if made_db:
            db.unlink(missing_ok=True)
        remove_empty_folders(made_folders)
        raise


def _sampler(spec: SweepSpec, seed: int):
    optuna = _optuna()
    if spec.sampler == "grid":
        class Grid(optuna.samplers.GridSampler):
            def after_trial(self, *args) -> None:
                """No Study.stop() when the grid is done (it works only inside Study.optimize): the budget
                is the grid's size, and the worker loop stops there."""

        return Grid(spec.grid(), seed=seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # constant_liar: a distributed TPE treats running trials as bad, so workers spread out.
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)


def _pruner(spec: SweepSpec):
    optuna = _optuna()
    if spec.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=spec.pruner_startup_trials,
                                           n_warmup_steps=spec.pruner_warmup_epochs)
    if spec.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, spec.pruner_warmup_epochs))
    return optuna.pruners.NopPruner()


def _comparable(identity: dict) -> dict:
    """A spec identity whose base config leaves out default values: a study started before a config key
    existed is joined by a spec that holds that key's default."""
    if not isinstance(identity, dict):
        return identity
    base = identity.get("base_config")
    return {**identity, "base_config": non_default_values(base) if isinstance(base, dict) else base}


def open_study(spec: SweepSpec, storage, study_name: str):
    """Create the study, or join it; refuse one created by another spec (the names of the keys that differ)."""
    optuna = _optuna()
    study = optuna.create_study(storage=storage, study_name=study_name, direction=spec.direction,
                                sampler=_sampler(spec, spec.seed), pruner=_pruner(spec), load_if_exists=True)
    if study.direction.name.lower() != spec.direction:
        raise UserError(f"study {study_name!r} in this storage {study.direction.name.lower()}s its objective, "
                        f"and this spec's {spec.objective} needs {spec.direction}; use another --study.")
    mine = json.loads(json.dumps(spec.identity()))  # as the storage will give it back
    theirs = study.user_attrs.get(SPEC_ATTR)
    if theirs is None:
        study.set_user_attr(SPEC_ATTR, mine)
        return study
    mine, theirs = _comparable(mine), _comparable(theirs)
    if theirs != mine:
        keys = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        ours, other = mine.get("base_config"), theirs.get("base_config")
        if "base_config" in keys and isinstance(ours, dict) and isinstance(other, dict):
            keys += [f"base_config.{k}" for k in sorted(set(ours) | set(other)) if ours.get(k) != other.get(k)]
        raise UserError(f"study {study_name!r} was started with another spec (differing: {', '.join(keys)}). "
                        "Rerun it with its own spec and flags, or give this one another --study.")
    return study


# ---------------------------------------------------------------- the sweep folder


def is_sweep_folder(path) -> bool:
    return (Path(path) / SWEEP_FILE).is_file()


def _check_folder(folder: Path, spec: SweepSpec, study_name: str, storage_url: str | None) -> dict:
    """The sweep.json record for this worker, after checking that the folder is new or this study's."""
    record = {"study": study_name, "storage": public_url(storage_url), "spec": spec.to_dict()}
    path = folder / SWEEP_FILE
    if path.is_file():
        old = read_folder(folder)
        if (old.get("study"), old.get("storage")) != (record["study"], record["storage"]):
            where = old.get("storage") or "its own study.db"
            raise UserError(f"{folder} holds sweep {old.get('study')!r} ({where}); use another --out for "
                            f"study {study_name!r}.")
    elif folder.exists() and any(p.name not in (SQLITE_FILE, "trials") and not p.name.startswith(".")
                                 for p in folder.iterdir()):  # "." files: another worker's sweep.json being written
        raise UserError(f"{folder} is not empty and holds no sweep; give another --out.")
    return record


def read_folder(folder) -> dict:
    path = Path(folder) / SWEEP_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{folder}: not a sweep folder (no {SWEEP_FILE}).") from None
    except (ValueError, RecursionError) as exc:
        raise UserError(f"{path}: damaged ({exc}); remove it or use another --out.") from None
    if not (isinstance(record, dict) and isinstance(record.get("study"), str) and isinstance(record.get("spec"), dict)
            and isinstance(record.get("storage"), (str, type(None)))):
        raise UserError(f"{path}: damaged (not a sweep record of study, storage and spec); "
                        "remove it or use another --out.")
    return record


# ---------------------------------------------------------------- workers


@dataclass
class Slots:
    """Where a study's budget stands (see the module docstring)."""

    holders: list  # trials holding a slot
    finished: list  # of those, the finished ones
    retry_waiting: bool  # a retried trial waits in the queue

    @classmethod
    def of(cls, trials) -> Slots:
        from optuna.trial import TrialState

        superseded = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
        holders = [t for t in trials if t.number not in superseded and not t.user_attrs.get(NOT_RUN_ATTR)
                   and not (t.state == TrialState.WAITING and "failed_trial" not in t.system_attrs)]
        finished = [t for t in holders if t.state.is_finished()]
        retry_waiting = any(t.state == TrialState.WAITING and "failed_trial" in t.system_attrs for t in trials)
        return cls(holders, finished, retry_waiting)


@contextmanager
def _heartbeat(storage, trial_id: int, seconds: int):
    """Record the trial's heartbeat every `seconds` while it runs, as Study.optimize does.

    We use ask/tell (to seed each trial and to hand a slot back), where Optuna starts no heartbeat.
    """
    stop = threading.Event()

    def beat():
        while True:
            storage.record_heartbeat(trial_id)
            if stop.wait(seconds):
                return

    storage.record_heartbeat(trial_id)  # at once: a trial without a heartbeat is never taken for dead
    thread = threading.Thread(target=beat, name=f"heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@dataclass
class SweepResult:
    folder: Path
    study: str
    counts: dict
    best: dict | None
    ran: list[int] = field(default_factory=list)  # trial numbers this worker ran


def run_sweep(spec: SweepSpec, out, storage_url: str | None = None, study_name: str | None = None,
              data_dir=None, progress: bool = True, log: Callable[[str], None] = print) -> SweepResult:
    """Run one worker of the sweep until the study's budget is spent (or this worker's time limit)."""
    optuna = _optuna()
    from optuna.trial import TrialState

    from .data import load_dataset
    from .training import Interrupted

    folder = Path(out)
    study_name = study_name or spec.name
    if not STUDY_NAME.fullmatch(study_name):
        raise UserError(f"--study {study_name!r}: use 1-100 letters, digits, '.', '_' or '-'.")
    record = _check_folder(folder, spec, study_name, storage_url)
    load_dataset(spec.base_config["release"], data_dir)  # a missing data folder fails here, before any trial
    if storage_url is None:
        storage = _open_own_sqlite(folder, spec.heartbeat_seconds)
    else:
        storage = open_storage(storage_url, spec.heartbeat_seconds)
    study = open_study(spec, storage, study_name)
    folder.mkdir(parents=True, exist_ok=True)  # only now: a database that cannot be reached leaves nothing
    atomic_write_json(folder / SWEEP_FILE, record)
    retry = storage.get_heartbeat_stale_trial_callback()
    started, ran, waiting_said = time.monotonic(), [], False
    bar = _progress(progress, spec, study_name)
    say = bar.write if bar is not None else log
    try:
        while True:
            optuna.storages.fail_stale_trials(study)  # trials of dead workers: FAIL, and retried
            trials = study.get_trials(deepcopy=False)
            slots = Slots.of(trials)
            _update_progress(bar, spec, slots, trials)
            if spec.trials and len(slots.finished) >= spec.trials:
                break
            if spec.time_limit_minutes and time.monotonic() - started >= spec.time_limit_minutes * 60:
                say(f"time limit of {spec.time_limit_minutes:g} minutes reached")
                break
            if spec.trials and len(slots.holders) >= spec.trials and not slots.retry_waiting:
                if not waiting_said:
                    say(f"waiting: {len(slots.holders) - len(slots.finished)} trial(s) of the budget run on "
                        "other workers (this worker takes over any whose worker dies)")
                    waiting_said = True
                time.sleep(min(5, spec.heartbeat_seconds))
                continue
            waiting_said = False
            trial = study.ask()
            with _heartbeat(storage, trial._trial_id, spec.heartbeat_seconds):
                frozen = storage.get_trial(trial._trial_id)
                if spec.trials and "failed_trial" not in frozen.system_attrs:
                    ahead = [t for t in Slots.of(study.get_trials(deepcopy=False)).holders if t.number < trial.number]
                    if len(ahead) >= spec.trials:  # another worker took the last slot first
                        trial.set_user_attr(NOT_RUN_ATTR, "the budget's last slot went to another worker")
                        study.tell(trial, state=TrialState.FAIL)
                        continue
                if spec.sampler != "grid":
                    # Seeded by trial number: workers sharing one seed would draw the same parameters at
                    # the same moment. The grid is the same shuffled grid for every worker, by design.
                    study.sampler = _sampler(spec, spec.seed + trial.number)
                ran.append(trial.number)
                try:
                    _run_trial(study, storage, trial, frozen, spec, folder, study_name, data_dir, say)
                except (Interrupted, KeyboardInterrupt):
                    if _fail(study, storage, trial):
                        retry(study, storage.get_trial(trial._trial_id))  # the next run continues it
                    raise
                except BaseException:
                    _fail(study, storage, trial)
                    raise
    finally:
        if bar is not None:
            bar.close()
    trials = study.get_trials(deepcopy=False)
    return SweepResult(folder, study_name, state_counts(trials), best_trial(trials, spec.direction), ran)


def _fail(study, storage, trial) -> bool:
    """Tell a trial that raised FAIL, unless it was told already (the error came after); whether it was."""
    from optuna.trial import TrialState

    if storage.get_trial(trial._trial_id).state != TrialState.RUNNING:
        return False
    study.tell(trial, state=TrialState.FAIL)
    return True


class _TakenOver(Exception):
    """Another worker failed this trial as dead (its heartbeat came late) and queued its retry."""


def _run_trial(study, storage, trial, frozen, spec: SweepSpec, folder: Path, study_name: str, data_dir,
               say) -> None:
    """Train one trial into trials/NNNN and tell Optuna how it ended (the caller tells a failure)."""
    optuna = _optuna()
    from optuna.trial import TrialState

    from .training import train

    params = {d.key: d.suggest(trial) for d in spec.search}
    history = frozen.system_attrs.get("retry_history", [])
    first = history[0] if history else trial.number  # a retry continues its original's run directory
    run = RunDir(folder / "trials" / f"{first:04d}")
    config = spec.trial_config(params, f"{study_name}-{first:04d}")
    earlier = run.read_trial() if run.trial.is_file() else None
    resume = False
    if run.path.exists():
        if not (earlier and earlier.get("study") == study_name and earlier.get("number") in history):
            raise UserError(f"{run.path} holds something other than an earlier try of trial {trial.number}; "
                            "move it away, or use another --out.")
        resume = run.checkpoint.is_file()
        if not resume:  # died before its first checkpoint: nothing to continue
            shutil.rmtree(run.path)
    trial.set_user_attr("run_dir", str(run.path.resolve()))
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    done = run.read_history() if resume else []
    record = {"study": study_name, "number": trial.number, "retry_of": history, "params": params,
              "objective": spec.objective, "direction": spec.direction, "state": "running", "value": None,
              "epochs_run": len(done)}
    run.write_trial(record)
    shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
    say(f"trial {trial.number}: {shown}" + (f" (retry of {history[-1]}, resuming)" if resume else
                                           f" (retry of {history[-1]})" if history else ""))

    best = {"value": None}  # the objective so far, for best_* objectives: a resumed trial starts from its history
    for row in filter(was_validated, done):
        _epoch_value(spec.objective, row, best)

    def still_mine() -> bool:
        return storage.get_trial(trial._trial_id).state == TrialState.RUNNING

    def tell(*args, **kwargs) -> bool:
        """study.tell, unless another worker failed the trial meanwhile (then False)."""
        try:
            study.tell(trial, *args, **kwargs)
        except ValueError:  # "Cannot tell a FAIL trial"
            if still_mine():
                raise
            return False
        return True

    def taken_over() -> None:
        run.write_trial({**record, "state": "failed"})
        say(f"trial {trial.number}: another worker took it for dead (no heartbeat for {2 * spec.heartbeat_seconds} s) "
            "and queued a retry; this worker goes on with the next trial")

    def report(row: dict) -> None:
        if not still_mine():  # stop writing into a run directory that the retry may be using
            raise _TakenOver
        record["epochs_run"] = row["epoch"]
        if not was_validated(row):  # validation_freq > 1: the pruner compares validated epochs only
            return
        trial.report(_epoch_value(spec.objective, row, best), row["epoch"])
        if row["epoch"] < config.epochs and trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {row['epoch']}")

    try:
        result = train(config, run.path, data_dir=data_dir, resume=resume, progress=False,
                       log=lambda line: say(f"  trial {trial.number} {line}"), on_epoch=report, kind="trial")
    except _TakenOver:
        return taken_over()
    except optuna.TrialPruned:
        if not tell(state=TrialState.PRUNED):  # Optuna records the last reported value as its value
            return taken_over()
        value = best["value"]
        run.write_trial({**record, "state": "pruned", "value": value})
        say(f"trial {trial.number}: pruned after epoch {record['epochs_run']} ({spec.objective} so far {_fmt(value)})")
        return
    except TrainingDiverged as exc:  # a setting that does not train: the worst value, and the sweep goes on
        worst = spec.worst_value
        trial.set_user_attr(DIVERGED_ATTR, str(exc).split(". ")[0])  # for every machine's report
        if not tell(worst):
            return taken_over()
        run.write_trial({**record, "state": "diverged", "value": worst})
        say(f"trial {trial.number}: diverged, scored as the worst {spec.objective} ({trial.user_attrs[DIVERGED_ATTR]})")
        return
    except BaseException:
        run.write_trial({**record, "state": "failed"})
        raise
    value = result.metrics[spec.objective]
    if not math.isfinite(value):  # NaN or infinite scores without a diverged loss: the worst value too
        value = spec.worst_value
    if not tell(value):
        return taken_over()
    run.write_trial({**record, "state": "complete", "value": value, "epochs_run": len(result.history)})
    say(f"trial {trial.number}: {spec.objective} {_fmt(value)} (test accuracy {result.metrics['test_accuracy']:.4f})")


def _epoch_value(objective: str, row: dict, best: dict) -> float:
    """The objective as it stands after this epoch: what the pruner compares across trials."""
    metric = "val_accuracy" if objective.endswith("accuracy") else "val_loss"
    value = row[metric]
    if objective.startswith("best") and best["value"] is not None and math.isfinite(best["value"]):
        value = max(value, best["value"]) if metric == "val_accuracy" else min(value, best["value"])
    best["value"] = value
    return value


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def state_counts(trials) -> dict:
    counts = {"complete": 0, "pruned": 0, "failed": 0, "running": 0, "waiting": 0, "not run": 0}
    for t in trials:
        counts[trial_state(t)] += 1
    return counts


def trial_state(t) -> str:
    if t.user_attrs.get(NOT_RUN_ATTR):
        return "not run"
    return {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running",
            "WAITING": "waiting"}[t.state.name]


def best_trial(trials, direction: str) -> dict | None:
    done = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
    if not done:
        return None
    pick = max if direction == "maximize" else min
    t = pick(done, key=lambda t: t.value)
    return {"number": t.number, "value": t.value, "params": t.params, "run_dir": t.user_attrs.get("run_dir")}


def _progress(enabled: bool, spec: SweepSpec, study_name: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=spec.trials or None, desc=f"sweep {study_name}", unit="trial", dynamic_ncols=True)


def _update_progress(bar, spec: SweepSpec, slots: Slots, trials) -> None:
    if bar is None:
        return
    done = len(slots.finished)
    if done > bar.n:
        bar.update(done - bar.n)
    best = best_trial(trials, spec.direction)
    bar.set_postfix_str(f"best {spec.objective} {_fmt(best and best['value'])}"
                        + (f" (trial {best['number']})" if best else ""))


# ---------------------------------------------------------------- reading a sweep back (for reports)


@dataclass
class TrialRow:
    number: int
    state: str
    value: float | None
    params: dict
    epochs: int  # epochs reported (intermediate values)
    seconds: float | None  # start to finish
    started: str | None
    run_dir: Path | None  # the run directory, where it is on this machine
    retry_of: list = field(default_factory=list)
    worker: str | None = None
    intermediate: dict = field(default_factory=dict)
    diverged: str | None = None  # why its training stopped (NaN or infinite loss); its value is the worst


@dataclass
class SweepView:
    folder: Path
    study: str
    storage: str  # shown: the URL without password, or the SQLite file
    spec: dict
    direction: str
    rows: list[TrialRow]
    importances: dict | None
    importance_note: str
    wall_seconds: float | None  # first trial start to last trial finish

    @property
    def best(self) -> TrialRow | None:
        done = [r for r in self.rows if r.state == "complete" and r.value is not None]
        if not done:
            return None
        return (max if self.direction == "maximize" else min)(done, key=lambda r: r.value)

    def counts(self) -> dict:
        counts = dict.fromkeys(("complete", "pruned", "failed", "running", "waiting", "not run"), 0)
        for r in self.rows:
            counts[r.state] += 1
        return counts

    def ranked(self) -> list[TrialRow]:
        """Trials with a value, best first, then the rest by number."""
        scored = [r for r in self.rows if r.value is not None and r.state in ("complete", "pruned")]
        rest = [r for r in self.rows if r not in scored]
        reverse = self.direction == "maximize"
        complete = sorted((r for r in scored if r.state == "complete"), key=lambda r: r.value, reverse=reverse)
        pruned = sorted((r for r in scored if r.state == "pruned"), key=lambda r: r.value, reverse=reverse)
        return complete + pruned + rest


def read_sweep(folder, storage_url: str | None = None) -> SweepView:
    """A sweep folder's study, read from its storage: the SQLite file in the folder, `storage_url`,
    or the URL sweep.json recorded (without its password: give --storage when the server needs one)."""
    optuna = _optuna()
    folder = Path(folder)
    record = read_folder(folder)
    recorded = record.get("storage")
    url = storage_url or recorded or sqlite_url(folder)
    if not storage_url and not recorded and not (folder / SQLITE_FILE).is_file():
        raise UserError(f"{folder}: {SQLITE_FILE} is missing, so the study cannot be read.")
    storage = open_storage(url, flag="--storage" if storage_url else f"the storage in {folder / SWEEP_FILE}")
    try:
        study = optuna.load_study(study_name=record["study"], storage=storage)
    except KeyError:
        raise UserError(f"{public_url(url)} holds no study {record['study']!r}.") from None
    trials = study.get_trials(deepcopy=False)
    rows = []
    for t in trials:
        local = folder / "trials" / f"{(t.system_attrs.get('retry_history') or [t.number])[0]:04d}"
        own = RunDir(local).read_trial() if RunDir(local).trial.is_file() else None
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() \
            if t.datetime_complete and t.datetime_start else None
        rows.append(TrialRow(
            number=t.number, state=trial_state(t), value=t.value if t.values else None, params=dict(t.params),
            epochs=len(t.intermediate_values), seconds=seconds,
            started=t.datetime_start.isoformat(timespec="seconds") if t.datetime_start else None,
            run_dir=local if own and own.get("number") == t.number else None,
            retry_of=list(t.system_attrs.get("retry_history", [])), worker=t.user_attrs.get("worker"),
            intermediate=dict(t.intermediate_values), diverged=t.user_attrs.get(DIVERGED_ATTR)))
    importances, note = _importances(study)
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    wall = (max(ends) - min(starts)).total_seconds() if starts and ends else None
    spec = study.user_attrs.get(SPEC_ATTR, {})
    return SweepView(folder, record["study"], public_url(url) if storage_url or recorded else f"SQLite: {SQLITE_FILE}",
                     {**record.get("spec", {}), **spec}, study.direction.name.lower(), rows, importances, note, wall)


def _importances(study) -> tuple[dict | None, str]:
    """Optuna's parameter importances (its default evaluator: PED-ANOVA in Optuna 5) over the completed trials."""
    optuna = _optuna()
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) < 2:
        return None, f"{len(complete)} completed trial(s): importances need at least two."
    try:
        return optuna.importance.get_param_importances(study), (
            f"Optuna {optuna.__version__}'s get_param_importances, with its default evaluator, over the "
            f"{len(complete)} completed trials; they sum to 1.")
    except (ValueError, RuntimeError) as exc:
        return None, f"importances could not be computed ({exc})."
