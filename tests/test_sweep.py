"""`fashionlab sweep`: spec validation, the SQLite default, resume after Ctrl-C, and, against a real
PostgreSQL, two workers sharing a study and a worker killed mid-trial.

Workers run as `python -m fashionlab sweep ...` subprocesses on a small synthetic dataset (tiny
ANN runs). The PostgreSQL tests need FASHIONLAB_TEST_POSTGRES (a database URL; `.ci/run` starts a
throwaway server and sets it): outside CI they skip without it, in CI they fail.
"""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import fashionlab
from conftest import one_line_exit_2, write_dataset
from fashionlab.cli import main

optuna = pytest.importorskip("optuna", reason="the sweep extra is not installed: pip install -e '.[sweep]'")

from optuna.trial import TrialState  # noqa: E402

from fashionlab.errors import UserError  # noqa: E402
from fashionlab.runs import RunDir, load_run  # noqa: E402
from fashionlab.sweep import Slots, load_spec, open_storage, open_study, shipped_spec_names  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:.*unknown.*:UserWarning")  # synthetic data is an unknown release

SRC = Path(fashionlab.__file__).resolve().parents[1]
GRID = """
name = "grid"
base = "ann-2"
sampler = "grid"
[set]
epochs = {epochs}
train_limit = 300
device = "cpu"
[search.optimizer]
choices = ["adam", "sgd", "rmsprop"]
[search.lr]
choices = [0.001, 0.01]
"""
RANDOM = """
name = "tiny"
base = "ann-2"
sampler = "random"
trials = {trials}
heartbeat_seconds = 5
pruner = "median"
pruner_startup_trials = 1
[set]
epochs = {epochs}
device = "cpu"
[search.lr]
low = 0.001
high = 0.03
log = true
[search.batch_size]
choices = [32, 64]
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


class Worker:
    """A sweep worker in its own process, as on another machine; its output goes to a file."""

    def __init__(self, spec, out, data, *flags):
        self.log = Path(f"{out}.log")
        argv = [sys.executable, "-m", "fashionlab", "sweep", str(spec), "--out", str(out), "--data-dir", str(data),
                "--quiet", *flags]
        env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
        with open(self.log, "w") as fh:
            self.proc = subprocess.Popen(argv, env=env, stdout=fh, stderr=subprocess.STDOUT, text=True)

    @property
    def output(self) -> str:
        return self.log.read_text()

    def finish(self, timeout=600) -> int:
        return self.proc.wait(timeout=timeout)

    def wait_for_epochs(self, run: Path, epochs: int, timeout=300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            history = run / "history.csv"
            if history.is_file() and len(history.read_text().splitlines()) > epochs:
                return
            assert self.proc.poll() is None, self.output
            time.sleep(0.1)
        raise AssertionError(f"{run} did not reach epoch {epochs}")


@pytest.fixture
def workers():
    """Start workers with workers.append(Worker(...)); any still running when the test ends is killed."""
    started = []
    yield started
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()


def finished(study) -> list:
    return Slots.of(study.get_trials(deepcopy=False)).finished


# ---------------------------------------------------------------- the spec


@pytest.mark.parametrize("name", shipped_spec_names())
def test_shipped_specs_load_and_validate(name):
    spec = load_spec(name)
    assert spec.trials >= 24 if name.startswith("paper") else spec.trials > 0
    assert spec.objective.startswith(("best_val", "final_val"))
    if name.startswith("paper"):
        assert {d.key for d in spec.search} == {"optimizer", "lr", "batch_size"}


@pytest.mark.parametrize("body, words", [
    ("objective = \"test_accuracy\"\n", ["test set", "objective"]),
    ("pruner = \"medain\"\n", ["pruner", "median"]),
    ("trails = 3\n", ["unknown key 'trails'", "trials"]),
    ("[search.lrr]\nlow = 0.001\nhigh = 0.1\n", ["[search.lrr]", "unknown config key 'lrr'", "'lr'"]),
    ("[search.lr]\nlow = 0.1\nhigh = 0.001\n", ["[search.lr]", "empty range"]),
    ("[search.lr]\nlow = 0.01\nhigh = 0.01\n", ["[search.lr]", "empty range"]),
    ("[search.optimizer]\nchoices = []\n", ["[search.optimizer]", "choices is empty"]),
    ("[search.optimizer]\nchoices = [\"adam\", \"adagrad\"]\n", ["optimizer must be one of", "adagrad"]),
    ("[search.lr]\nlow = -1.0\nhigh = 0.1\n", ["lr must be >= 0"]),
    ("[search.lr]\nlow = 0.001\nhigh = 0.1\nlgo = true\n", ["[search.lr]", "unknown key 'lgo'", "Known keys: choices, low, high, log, step"]),
    ("[search.lr]\nlow = 0.001\nhigh = 0.1\n", ["[search.lr]", "grid cannot cover"]),
    ("[search.epochs]\nchoices = [1, 2]\n", ["epochs is also fixed in [set]"]),
    ("[search.lr]\nlow = 0.001\nhigh = 0.01\nstep = 5e-324\n", ["[search.lr]", "more than 1e+12 steps"]),
    ("[search.lr]\nlow = 0.001\nhigh = 0.01\nstep = 1e-31\n", ["[search.lr]", "more than 1e+12 steps"]),
    ("[search.seed]\nlow = 0\nhigh = 4611686018427387904\n", ["grid has 4,611,686,018,427,387,905 points",
                                                             "more than the 1,000,000", "sampler = \"random\""]),
])
def test_a_bad_spec_is_refused_before_anything_runs(body, words, tmp_path, capsys):
    head = 'name = "bad"\nbase = "ann-2"\nsampler = "grid"\n'
    tables = body if body.startswith("[") else ""
    keys = "" if tables else body
    text = head + keys + "[set]\nepochs = 1\n" + (tables or "[search.optimizer]\nchoices = [\"adam\"]\n")
    spec = write(tmp_path / "bad.toml", text)
    err = one_line_exit_2(["sweep", str(spec), "--out", str(tmp_path / "out")], capsys)
    for word in words:
        assert word in err, err
    assert str(spec) in err or "bad.toml" in err
    assert not (tmp_path / "out").exists()  # refused before any folder, study or trial


def test_a_random_or_tpe_sweep_over_a_huge_int_range_is_never_listed(tmp_path, monkeypatch):
    """Only a grid lists its points; a seed searched over [0, 2**62] by TPE is counted, not enumerated
    (listing it took all the memory)."""
    from fashionlab.sweep import Dimension

    def refuse(self):
        raise AssertionError(f"[search.{self.key}] listed for a sampler that does not need it")

    monkeypatch.setattr(Dimension, "grid_values", refuse)
    for sampler in ("random", "tpe"):
        text = (f'name = "seeds"\nbase = "ann-2"\nsampler = "{sampler}"\ntrials = 2\n'
                '[search.seed]\nlow = 0\nhigh = 4611686018427387904\n')
        spec = load_spec(str(write(tmp_path / f"{sampler}.toml", text)))
        assert spec.trials == 2 and spec.search[0].grid_count() == 2**62 + 1


def test_a_spec_that_is_a_loop_of_links_is_one_line(tmp_path, capsys):
    (tmp_path / "loop.toml").symlink_to(tmp_path / "loop.toml")
    err = one_line_exit_2(["sweep", str(tmp_path / "loop.toml"), "--out", str(tmp_path / "out")], capsys)
    assert "loop.toml is a symbolic link that cannot be followed (a loop of links)" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("url, words", [
    ("not a url", ["--storage 'not a url' is not a database URL"]),
    ("postgresql://nobody:secret@127.0.0.1:1/none", ["cannot open the database", "postgresql://nobody@127.0.0.1:1/none"]),
])
def test_a_bad_storage_is_one_line_and_leaves_nothing(url, words, tmp_path, capsys):
    data = write_dataset(tmp_path / "data")
    spec = write(tmp_path / "tiny.toml", RANDOM.format(trials=1, epochs=1))
    err = one_line_exit_2(["sweep", str(spec), "--storage", url, "--out", str(tmp_path / "out"),
                           "--data-dir", str(data)], capsys)
    for word in words:
        assert word in err
    assert "secret" not in err  # the password is never printed
    assert not (tmp_path / "out").exists()


def test_a_sqlite_file_that_is_no_optuna_storage_is_refused_untouched(tmp_path, capsys):
    import sqlite3

    foreign, text = tmp_path / "app.db", tmp_path / "notes.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE studies (x INTEGER)")  # a table name Optuna uses too
    text.write_text("not a database")
    data = write_dataset(tmp_path / "data")
    spec = write(tmp_path / "tiny.toml", RANDOM.format(trials=1, epochs=1))
    for path, words in ((foreign, "is a database of something else (tables studies), not an Optuna storage"),
                        (text, "is not a usable SQLite database (file is not a database)")):
        err = one_line_exit_2(["sweep", str(spec), "--storage", f"sqlite:///{path}", "--out", str(tmp_path / "out"),
                               "--data-dir", str(data)], capsys)
        assert f"{path} {words}" in err and not (tmp_path / "out").exists()
    with sqlite3.connect(foreign) as db:  # Optuna added none of its tables
        assert [row[0] for row in db.execute("SELECT name FROM sqlite_master")] == ["studies"]


def test_a_storage_of_another_optuna_version_is_one_line(tmp_path):
    import sqlite3

    url = f"sqlite:///{tmp_path / 'study.db'}"
    open_storage(url).engine.dispose()
    with sqlite3.connect(tmp_path / "study.db") as db:
        db.execute("UPDATE alembic_version SET version_num = 'v9.9.9.z'")
    with pytest.raises(UserError, match="is no longer compatible with the table schema"):
        open_storage(url)


def test_a_full_disk_under_the_folders_own_study_db_names_that_file_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    import optuna
    import sqlalchemy.exc

    def full_disk(url, **kwargs):  # SQLite makes the file on connecting, then fails its first write
        Path(url.removeprefix("sqlite:///")).touch()
        raise sqlalchemy.exc.OperationalError("CREATE TABLE studies", {}, Exception("database or disk is full"))

    monkeypatch.setattr(optuna.storages, "RDBStorage", full_disk)
    data = write_dataset(tmp_path / "data")
    spec = write(tmp_path / "tiny.toml", RANDOM.format(trials=1, epochs=1))
    out = tmp_path / "sweeps" / "out"  # two folder levels made by this call: both are removed again
    err = one_line_exit_2(["sweep", str(spec), "--out", str(out), "--data-dir", str(data)], capsys)
    assert str(out / "study.db") in err and "database or disk is full" in err and "free space" in err
    assert "--storage" not in err and "server" not in err  # no --storage was given
    assert not (tmp_path / "sweeps").exists()


@pytest.mark.parametrize("record", ["[]", '{"study": "s", "storage": null, "spec": "x"}', "{broken", "[" * 100_000 + "]" * 100_000])
def test_a_damaged_sweep_json_is_named_by_report_and_by_a_worker(tmp_path, capsys, record):
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "sweep.json").write_text(record)
    spec = write(tmp_path / "tiny.toml", RANDOM.format(trials=1, epochs=1))
    for argv in (["report", str(folder)], ["sweep", str(spec), "--out", str(folder)]):
        err = one_line_exit_2(argv, capsys)
        assert "sweep.json: damaged" in err and "another --out" in err
    assert (folder / "sweep.json").read_text() == record


def test_a_study_refuses_a_worker_with_another_spec(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}", heartbeat_seconds=1)
    one = load_spec(str(write(tmp_path / "a.toml", RANDOM.format(trials=3, epochs=1))))
    open_study(one, storage, "shared")
    open_study(load_spec(str(tmp_path / "a.toml"), trials=9), storage, "shared")  # a new budget is fine
    other = load_spec(str(tmp_path / "a.toml"), overrides={"train_limit": 200})
    with pytest.raises(UserError, match=r"another spec \(differing: base_config, base_config.train_limit\)"):
        open_study(other, storage, "shared")


def test_a_study_started_before_a_config_key_existed_is_joined_by_a_spec_at_its_default(tmp_path):
    from fashionlab.sweep import SPEC_ATTR

    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}", heartbeat_seconds=1)
    spec = load_spec(str(write(tmp_path / "a.toml", RANDOM.format(trials=3, epochs=1))))
    study = open_study(spec, storage, "shared")
    older = study.user_attrs[SPEC_ATTR]
    del older["base_config"]["deterministic"]  # as a spec saved before session 15 holds it
    study.set_user_attr(SPEC_ATTR, older)
    open_study(load_spec(str(tmp_path / "a.toml")), storage, "shared")  # joined
    with pytest.raises(UserError, match=r"another spec \(differing: base_config, base_config.deterministic\)"):
        open_study(load_spec(str(tmp_path / "a.toml"), overrides={"deterministic": True}), storage, "shared")


def test_slots_hand_a_failed_trials_slot_to_its_retry():
    make = optuna.trial.create_trial
    trials = [
        make(state=TrialState.COMPLETE, value=0.5),
        make(state=TrialState.FAIL),  # worker killed; retried below
        make(state=TrialState.FAIL, user_attrs={"not_run": "budget taken"}),
        make(state=TrialState.WAITING, system_attrs={"failed_trial": 1, "retry_history": [1]}),
        make(state=TrialState.PRUNED, value=0.1),
        make(state=TrialState.FAIL),  # failed and not retried: its slot is spent
    ]
    for number, t in enumerate(trials):
        t.number = number
    slots = Slots.of(trials)
    assert [t.number for t in slots.holders] == [0, 3, 4, 5]
    assert [t.number for t in slots.finished] == [0, 4, 5]
    assert slots.retry_waiting


# ---------------------------------------------------------------- SQLite, one machine


def test_a_diverging_trial_is_the_worst_value_and_the_sweep_goes_on(tmp_path, capsys):
    data = write_dataset(tmp_path / "data")
    text = GRID.format(epochs=1).replace('choices = ["adam", "sgd", "rmsprop"]', 'choices = ["sgd"]')
    spec = write(tmp_path / "lr.toml", text.replace("choices = [0.001, 0.01]", "choices = [1e30, 0.01]"))
    out = tmp_path / "sweep"
    code = main(["sweep", str(spec), "--out", str(out), "--data-dir", str(data), "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    study = optuna.load_study(study_name="grid", storage=open_storage(f"sqlite:///{out / 'study.db'}"))
    by_lr = {t.params["lr"]: t for t in study.get_trials()}
    assert by_lr[1e30].state == by_lr[0.01].state == TrialState.COMPLETE
    assert by_lr[1e30].value == -math.inf and 0 <= by_lr[0.01].value <= 1 and study.best_trial.params["lr"] == 0.01
    record = RunDir(out / "trials" / f"{by_lr[1e30].number:04d}").read_trial()
    assert record["state"] == "diverged" and record["value"] == -math.inf
    assert f"trial {by_lr[1e30].number}: diverged, scored as the worst best_val_accuracy (training diverged in epoch 1" in printed
    assert "<td data-v=\"training diverged in epoch 1: " in (out / "report.html").read_text()  # the trial's note


def test_sqlite_default_three_tiny_trials_complete_and_are_ordinary_runs(tmp_path, capsys):
    data = write_dataset(tmp_path / "data")
    spec = write(tmp_path / "tiny.toml", RANDOM.format(trials=3, epochs=2).replace('pruner = "median"', ""))
    out = tmp_path / "sweep"
    code = main(["sweep", str(spec), "--out", str(out), "--data-dir", str(data), "--train-limit", "300", "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert (out / "study.db").is_file() and (out / "report.html").is_file()
    storage = open_storage(f"sqlite:///{out / 'study.db'}")
    study = optuna.load_study(study_name="tiny", storage=storage)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    assert "study tiny: 3 completed, 0 pruned, 0 failed; this worker ran 3" in printed
    for t in trials:
        run = RunDir(out / "trials" / f"{t.number:04d}")
        record = run.read_trial()
        assert record["number"] == t.number and record["params"] == t.params
        assert record["state"] == "complete" and run.kind == "trial"
        assert record["value"] == pytest.approx(t.value)
        assert load_run(run.path).config["train_limit"] == 300
        assert load_run(run.path).metrics["best_val_accuracy"] == pytest.approx(t.value)

    # Trials are ordinary runs: evaluate and report work on them unchanged.
    trial_dir = out / "trials" / "0001"
    assert main(["evaluate", str(trial_dir), "--data-dir", str(data)]) == 0
    assert main(["report", str(trial_dir), "--out", str(tmp_path / "one.html")]) == 0
    capsys.readouterr()

    # The sweep report: counts, the best trial linked, every trial in the table; no remote anything.
    assert main(["report", str(out), "--out", str(tmp_path / "sweep.html")]) == 0
    html = (tmp_path / "sweep.html").read_text()
    best = max(trials, key=lambda t: t.value)
    assert f"Best configuration: trial {best.number}" in html
    assert f'href="sweep/trials/{best.number:04d}/"' in html
    assert html.count('<tr><td data-v="') == 3  # one row per trial
    assert "http://" not in html.replace("http://www.w3.org", "") and "<script src" not in html
    assert "Parameter importance" in html and "Learning curves of the top" in html


def test_the_pruner_sees_only_the_epochs_a_trial_validated(tmp_path, capsys):
    data = write_dataset(tmp_path / "data")
    spec = write(tmp_path / "tiny.toml", RANDOM.format(trials=2, epochs=3).replace("[search.lr]", "validation_freq = 2\n[search.lr]"))
    out = tmp_path / "sweep"
    code = main(["sweep", str(spec), "--out", str(out), "--data-dir", str(data), "--train-limit", "300", "--quiet"])
    assert code == 0, capsys.readouterr().out
    trials = optuna.load_study(study_name="tiny", storage=open_storage(f"sqlite:///{out / 'study.db'}")).get_trials()
    assert trials[0].state == TrialState.COMPLETE and sorted(trials[0].intermediate_values) == [2, 3]
    assert all(set(t.intermediate_values) <= {2, 3} and t.intermediate_values for t in trials)


def test_a_pruned_trial_is_not_taken_for_a_finished_run(tmp_path, capsys):
    run = RunDir(tmp_path / "trials" / "0004")
    run.write_trial({"study": "s", "number": 4, "params": {"lr": 0.1}, "state": "pruned", "value": 0.5, "epochs_run": 2})
    run.write_config({"name": "s-0004", "model": "ann-2"})
    run.write_history([])
    assert run.kind == "trial" and not run.is_complete
    err = one_line_exit_2(["evaluate", str(run.path)], capsys)
    assert "trial 4 of sweep 's', pruned after 2 epoch(s): it has no test results" in err
    err = one_line_exit_2(["report", str(run.path), "--out", str(tmp_path / "r.html")], capsys)
    assert "pruned after 2 epoch(s)" in err


# ---------------------------------------------------------------- interrupted and started again


def test_an_interrupted_sweep_resumes_where_it_stopped(tmp_path, workers):
    data = write_dataset(tmp_path / "data")
    spec = write(tmp_path / "tiny.toml", RANDOM.format(trials=2, epochs=12).replace("pruner = \"median\"", ""))
    out = tmp_path / "sweep"
    first = Worker(spec, out, data, "--train-limit", "300")
    workers.append(first)
    first.wait_for_epochs(out / "trials" / "0001", 3)
    first.proc.send_signal(signal.SIGINT)  # Ctrl-C: a checkpoint at the next batch, then exit 130
    assert first.finish(60) == 130, first.output
    assert "Run the same command again" in first.output

    again = Worker(spec, out, data, "--train-limit", "300")
    workers.append(again)
    assert again.finish() == 0, again.output
    assert "retry of 1, resuming" in again.output
    study = optuna.load_study(study_name="tiny", storage=open_storage(f"sqlite:///{out / 'study.db'}"))
    states = {t.number: t.state for t in study.get_trials()}
    assert states[1] == TrialState.FAIL and len(finished(study)) == 2
    retry = next(t for t in study.get_trials() if t.system_attrs.get("failed_trial") == 1)
    assert retry.state == TrialState.COMPLETE
    run = RunDir(out / "trials" / "0001")  # the retry continued the interrupted trial's run directory
    assert run.read_trial()["number"] == retry.number and run.read_trial()["retry_of"] == [1]
    assert [r["epoch"] for r in run.read_history()] == list(range(1, 13))


# ---------------------------------------------------------------- PostgreSQL, many machines


@pytest.fixture
def postgres():
    url = os.environ.get("FASHIONLAB_TEST_POSTGRES")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("FASHIONLAB_TEST_POSTGRES is not set: .ci/run starts a PostgreSQL server and sets it")
        pytest.skip("FASHIONLAB_TEST_POSTGRES is not set: give a PostgreSQL URL (as .ci/run does) to run this test")
    name = f"test-{uuid.uuid4().hex[:10]}"
    yield url, name
    storage = open_storage(url)
    try:
        optuna.delete_study(study_name=name, storage=storage)
    except KeyError:
        pass


def test_two_workers_share_one_study_and_run_each_trial_once(postgres, tmp_path, workers):
    url, name = postgres
    data = write_dataset(tmp_path / "data")
    spec = write(tmp_path / "grid.toml", GRID.format(epochs=2))
    flags = ("--storage", url, "--study", name)
    workers.extend(Worker(spec, tmp_path / f"machine{i}", data, *flags) for i in (1, 2))
    assert [w.finish() for w in workers] == [0, 0], [w.output for w in workers]

    study = optuna.load_study(study_name=name, storage=open_storage(url))
    trials = study.get_trials()
    assert [t.state for t in trials].count(TrialState.FAIL) == 0
    ran = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    grid = {(o, lr) for o in ("adam", "sgd", "rmsprop") for lr in (0.001, 0.01)}
    assert sorted((t.params["optimizer"], t.params["lr"]) for t in ran) == sorted(grid)  # each point once
    workers = {t.user_attrs["worker"] for t in ran}
    assert len(workers) == 2  # both machines took trials
    for t in ran:  # each trial's run directory is on exactly one machine, and says it is that trial
        homes = [m for m in ("machine1", "machine2") if (tmp_path / m / "trials" / f"{t.number:04d}").is_dir()]
        assert len(homes) == 1, (t.number, homes)
        record = RunDir(tmp_path / homes[0] / "trials" / f"{t.number:04d}").read_trial()
        assert (record["number"], record["params"]) == (t.number, t.params)


def test_a_worker_killed_mid_trial_leaves_a_failed_trial_and_another_finishes(postgres, tmp_path, workers):
    url, name = postgres
    data = write_dataset(tmp_path / "data")
    spec = write(tmp_path / "tiny.toml", RANDOM.format(trials=2, epochs=12).replace("pruner = \"median\"", ""))
    flags = ("--storage", url, "--study", name, "--train-limit", "300")
    out = tmp_path / "machine"
    first = Worker(spec, out, data, *flags)
    workers.append(first)
    first.wait_for_epochs(out / "trials" / "0000", 2)
    first.proc.send_signal(signal.SIGKILL)
    assert first.finish(30) == -signal.SIGKILL
    study = optuna.load_study(study_name=name, storage=open_storage(url))
    assert study.get_trials()[0].state == TrialState.RUNNING  # nobody told Optuna anything

    second = Worker(spec, out, data, *flags)  # the same machine: it continues the dead trial's run
    workers.append(second)
    assert second.finish() == 0, second.output
    trials = study.get_trials()
    assert trials[0].state == TrialState.FAIL
    retry = next(t for t in trials if t.system_attrs.get("failed_trial") == 0)
    assert retry.state == TrialState.COMPLETE and retry.params == trials[0].params
    assert "retry of 0, resuming" in second.output
    assert len(finished(study)) == 2 and sum(t.state == TrialState.COMPLETE for t in trials) == 2
    assert [r["epoch"] for r in RunDir(out / "trials" / "0000").read_history()] == list(range(1, 13))


# ---------------------------------------------------------------- the report, in a browser


def fake_sweep(folder: Path) -> list[tuple[int, float, str]]:
    """A sweep folder whose study holds five finished trials (no training); returns (number, value, state)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    from fashionlab.sweep import SPEC_ATTR, sqlite_url

    folder.mkdir(parents=True)
    study = optuna.create_study(storage=open_storage(sqlite_url(folder)), study_name="fake", direction="maximize")
    spec = {"objective": "best_val_accuracy", "sampler": "tpe", "seed": 0, "pruner": "median", "trials": 5,
            "search": {"lr": {"low": 1e-4, "high": 0.1, "log": True}, "optimizer": {"choices": ["adam", "sgd"]}}}
    study.set_user_attr(SPEC_ATTR, spec)
    dist = {"lr": FloatDistribution(1e-4, 0.1, log=True), "optimizer": CategoricalDistribution(["adam", "sgd"])}
    made = [(0.001, "adam", 0.86, TrialState.COMPLETE), (0.1, "sgd", 0.84, TrialState.COMPLETE),
            (0.0001, "sgd", 0.31, TrialState.PRUNED), (0.01, "adam", 0.88, TrialState.COMPLETE),
            (0.05, "adam", 0.80, TrialState.COMPLETE)]
    for lr, optimizer, value, state in made:
        study.add_trial(optuna.trial.create_trial(
            params={"lr": lr, "optimizer": optimizer}, distributions=dist, state=state,
            value=value, intermediate_values={1: value - 0.1, 2: value}))  # a pruned trial keeps its last value
    (folder / "sweep.json").write_text(json.dumps({"study": "fake", "storage": None, "spec": spec}))
    return [(n, v, s.name.lower()) for n, (_, _, v, s) in enumerate(made)]


def test_the_sweep_report_counts_and_sorts_its_trials_in_a_browser(tmp_path, capsys):
    trials = fake_sweep(tmp_path / "fake")
    assert main(["report", str(tmp_path / "fake")]) == 0
    html = (tmp_path / "fake" / "report.html").read_text()
    assert "Best configuration: trial 3" in html and "<b>4</b>" in html and "<b>1</b>" in html  # 4 completed, 1 pruned
    browser_path, driver_path = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not (browser_path and driver_path):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromedriver are not installed; .ci/run installs Debian's chromium and chromium-driver")
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = browser_path
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        browser.get((tmp_path / "fake" / "report.html").as_uri())

        def column(i):
            return [r.find_elements(By.TAG_NAME, "td")[i].text for r in browser.find_elements(By.CSS_SELECTOR, "table.sortable tbody tr")]

        complete = sorted((t for t in trials if t[2] == "complete"), key=lambda t: -t[1])
        assert column(0) == [str(n) for n, _, _ in complete] + ["2"]  # best first, the pruned one after
        headers = browser.find_elements(By.CSS_SELECTOR, "table.sortable th")
        headers[0].click()  # trial number, ascending
        assert column(0) == ["0", "1", "2", "3", "4"]
        headers[0].click()  # and descending
        assert column(0) == ["4", "3", "2", "1", "0"]
        headers[2].click()  # the objective, ascending: numbers compared as numbers
        assert [float(v) for v in column(2)] == sorted(v for _, v, _ in trials)
    finally:
        browser.quit()
