"""Run safety: one writer per run directory, resumes that cannot mix runs, and damaged run files.

Each case is one a careless or hostile user hit (issue 10): it must end in a one-line error with
exit code 2 (or the right result), and never in a half-written or finished-looking run.
"""

import errno
import json
import os

import pytest
import torch
from conftest import one_line_exit_2, write_dataset

from fashionlab.cli import main
from fashionlab.experiment import load_config
from fashionlab.runs import RunDir
from fashionlab.training import Interrupted, train

QUIET = dict(progress=False, log=lambda s: None)


def _config(name="ann-2", **overrides):
    return load_config(name, {"epochs": 2, "train_limit": 200, "device": "cpu", **overrides})


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("safety") / "data")


@pytest.fixture(scope="module")
def finished(data, tmp_path_factory):
    """A finished 2-epoch ann-2 run, shared read-only by the tests that damage copies of it."""
    return train(_config(), tmp_path_factory.mktemp("finished") / "run", data_dir=data, **QUIET).run_dir


def _copy(run_dir, to):
    import shutil

    shutil.copytree(run_dir, to)
    return to


def _interrupted(data, out, **overrides):
    with pytest.raises(Interrupted):
        train(_config(**overrides), out, data_dir=data, should_stop=lambda e, s: (e, s) == (2, 1), **QUIET)
    return out


# ---------------------------------------------------------------- one writer at a time


def test_a_second_writer_is_refused_while_the_first_holds_the_run(data, tmp_path, capsys):
    out = tmp_path / "run"
    with RunDir(out).writing():  # as a training in another process holds it
        err = one_line_exit_2(["train", "ann-2", "--epochs", "1", "--data-dir", str(data), "--out", str(out)], capsys)
        assert "being written by another fashionlab process" in err
        assert os.listdir(out) == []  # the refused writer wrote nothing
    # Released (the kernel releases it too if the holder dies): the same command now trains.
    assert main(["train", "ann-2", "--epochs", "1", "--train-limit", "200", "--data-dir", str(data), "--out", str(out),
                 "--quiet", "--device", "cpu"]) == 0


def test_a_refused_writer_leaves_no_empty_directory(tmp_path):
    out = tmp_path / "new" / "run"
    with pytest.raises(ValueError):
        with RunDir(out).writing():
            raise ValueError("failed before writing anything")
    assert not out.exists()


def test_a_file_in_the_way_of_out_is_a_clear_error(data, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    err = one_line_exit_2(["train", "ann-2", "--data-dir", str(data), "--out", str(tmp_path / "file" / "run")], capsys)
    assert "a file is in the way" in err


# ---------------------------------------------------------------- resume takes the run's own config


def test_resume_takes_everything_from_the_runs_config(data, tmp_path, capsys, monkeypatch):
    out = _interrupted(data, tmp_path / "run")
    # The hint after Ctrl-C is just --out and --resume ...
    monkeypatch.setattr("fashionlab.training.train", lambda *a, **k: (_ for _ in ()).throw(Interrupted(out, 2, 1)))
    assert main(["train", "ann-2", "--epochs", "2", "--train-limit", "200", "--out", str(out), "--data-dir", str(data)]) == 130
    assert f"fashionlab train --out {out} --resume" in capsys.readouterr().err
    monkeypatch.undo()
    # ... and it continues the 2-epoch, 200-image run, not the preset's 1,000 epochs on everything.
    assert main(["train", "--out", str(out), "--resume", "--data-dir", str(data), "--quiet"]) == 0
    assert len(RunDir(out).read_history()) == 2
    assert RunDir(out).read_config().epochs == 2
    # Naming the experiment is allowed (the preset's epochs do not sneak in); another experiment is not.
    err = one_line_exit_2(["train", "cnn-2", "--out", str(out), "--resume", "--data-dir", str(data)], capsys)
    assert "holds a run of 'ann-2'" in err


def test_only_an_explicit_epochs_extends_a_run_and_config_toml_says_so(data, tmp_path, capsys):
    out = tmp_path / "run"
    train(_config(), out, data_dir=data, **QUIET)
    err = one_line_exit_2(["train", "ann-2", "--out", str(out), "--resume", "--data-dir", str(data)], capsys)
    assert "finished run of 2 epochs" in err and "--epochs" in err
    assert main(["train", "--epochs", "3", "--out", str(out), "--resume", "--data-dir", str(data), "--quiet"]) == 0
    assert len(RunDir(out).read_history()) == 3
    assert RunDir(out).read_config().epochs == 3  # not stale


def test_a_finished_run_without_its_checkpoint_is_not_retrained_over_itself(finished, tmp_path, capsys, data):
    out = _copy(finished, tmp_path / "run")
    (out / "checkpoint.pt").unlink()
    weights = (out / "weights.pt").read_bytes()
    err = one_line_exit_2(["train", "--epochs", "4", "--out", str(out), "--resume", "--data-dir", str(data)], capsys)
    assert "without its checkpoint.pt" in err
    assert (out / "weights.pt").read_bytes() == weights


def test_a_run_without_weights_is_told_to_resume_only_when_it_can(finished, data, tmp_path, capsys):
    interrupted = _interrupted(data, tmp_path / "interrupted")
    err = one_line_exit_2(["evaluate", str(interrupted), "--data-dir", str(data)], capsys)
    assert f"`fashionlab train --out {interrupted} --resume`" in err
    bare = _copy(finished, tmp_path / "bare")  # as the result folders in docs/results: no weights, no checkpoint
    (bare / "weights.pt").unlink()
    (bare / "checkpoint.pt").unlink()
    err = one_line_exit_2(["evaluate", str(bare), "--data-dir", str(data)], capsys)
    assert "cannot be finished" in err and "--resume" not in err


def test_a_run_without_its_config_is_no_dead_end(data, tmp_path, capsys):
    out = _interrupted(data, tmp_path / "run")
    (out / "config.toml").unlink()
    err = one_line_exit_2(["train", "--out", str(out), "--resume", "--data-dir", str(data)], capsys)
    assert "config.toml is missing" in err and "another --out" in err
    err = one_line_exit_2(["train", "ann-2", "--out", str(out), "--data-dir", str(data)], capsys)
    assert "already holds a run" in err


def test_a_folder_where_a_run_file_belongs_is_refused_before_training(finished, data, tmp_path, capsys):
    out = _copy(finished, tmp_path / "run")
    (out / "weights.pt").unlink()
    (out / "weights.pt").mkdir()
    history = (out / "history.csv").read_text()
    err = one_line_exit_2(["train", "--out", str(out), "--resume", "--epochs", "3", "--data-dir", str(data)], capsys)
    assert "weights.pt is a directory where the run's weights.pt belongs" in err
    assert (out / "history.csv").read_text() == history  # refused before any epoch


def test_resume_on_other_data_is_refused_naming_the_files(data, tmp_path, capsys):
    out = _interrupted(data, tmp_path / "run")
    other = write_dataset(tmp_path / "other", seed=7)
    err = one_line_exit_2(["train", "--out", str(out), "--resume", "--data-dir", str(other)], capsys)
    assert "trained on other data" in err and "train-images-idx3-ubyte.gz" in err


def test_reproduce_does_not_extend_an_interrupted_run_at_another_scale(data, tmp_path, capsys):
    from fashionlab.reproduce import reproduce

    out = tmp_path / "repro"
    with pytest.raises(Interrupted):
        train(load_config("ann-1", {"epochs": 2, "device": "cpu"}), out / "ann-1", data_dir=data,
              should_stop=lambda e, s: (e, s) == (1, 1), **QUIET)
    with pytest.raises(Exception, match="epochs 2 there, 4 asked"):
        reproduce(out, scale=0.004, data_dir=data, overrides={"device": "cpu"}, progress=False, log=lambda s: None)
    assert RunDir(out / "ann-1").read_config().epochs == 2


# ---------------------------------------------------------------- divergence and a full disk


def test_a_diverging_fit_stops_without_a_finished_looking_run(data, tmp_path, capsys):
    out = tmp_path / "run"
    err = one_line_exit_2(["train", "ann-2", "--lr", "1e30", "--epochs", "3", "--train-limit", "200", "--device", "cpu",
                           "--data-dir", str(data), "--out", str(out), "--quiet"], capsys)
    assert "training diverged in epoch 1" in err and "Lower the learning rate" in err
    assert not (out / "metrics.json").exists() and not (out / "weights.pt").exists()


@pytest.mark.parametrize("full_at", ["config.toml", "metrics.json"])
def test_a_full_disk_is_one_line_naming_the_file_and_the_run_resumes(full_at, data, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    real_fsync = os.fsync

    def fsync(fd):  # the disk fills up when the run first writes `full_at` (its temporary file, .NAME.*.tmp)
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(f".{full_at}."):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    argv = ["train", "ann-2", "--epochs", "2", "--train-limit", "200", "--device", "cpu", "--data-dir", str(data),
            "--out", str(out), "--quiet"]
    err = one_line_exit_2(argv, capsys)
    assert "the disk is full" in err and str(out / full_at) in err
    assert not list(tmp_path.rglob("*.tmp"))  # no temporary file left behind
    monkeypatch.undo()
    if full_at == "metrics.json":  # after training: the checkpoint is there, and --resume finishes the run
        assert "run it again with --resume" in err
        assert main(["train", "--out", str(out), "--resume", "--data-dir", str(data), "--quiet"]) == 0
    else:  # before the first checkpoint: running the command again is what works
        assert "run the command again" in err and "--resume" not in err
        assert main(argv) == 0
    assert RunDir(out).is_complete


def test_a_full_disk_under_report_advises_running_it_again_not_resuming(finished, tmp_path, capsys, monkeypatch):
    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync)
    err = one_line_exit_2(["report", str(finished), "--out", str(tmp_path / "r.html")], capsys)
    assert "the disk is full" in err and "run the command again" in err and "--resume" not in err


def test_report_names_a_run_given_twice(finished, tmp_path, capsys):
    same = str(finished) + "/."  # the same folder, spelt differently
    err = one_line_exit_2(["report", str(finished), same, "--out", str(tmp_path / "r.html")], capsys)
    assert "given twice" in err and not (tmp_path / "r.html").exists()


def test_report_names_a_symlink_loop_in_one_line(finished, tmp_path, capsys):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    err = one_line_exit_2(["report", str(finished), str(loop), "--out", str(tmp_path / "r.html")], capsys)
    assert f"{loop} is a symbolic link that cannot be followed (a loop of links)" in err
    assert not (tmp_path / "r.html").exists()


# ---------------------------------------------------------------- ensembles


def test_ensemble_never_writes_over_a_run_and_counts_each_member_once(finished, data, tmp_path, capsys):
    a = _copy(finished, tmp_path / "a")
    b = train(_config(seed=1), tmp_path / "b", data_dir=data, **QUIET).run_dir
    before = {p.name: p.read_bytes() for p in a.iterdir() if p.is_file()}
    err = one_line_exit_2(["ensemble", str(a), str(a), "--out", str(tmp_path / "e"), "--data-dir", str(data)], capsys)
    assert "given twice" in err
    err = one_line_exit_2(["ensemble", str(a), str(b), "--out", str(a), "--data-dir", str(data)], capsys)
    assert "one of the members" in err
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    err = one_line_exit_2(["ensemble", str(a), str(b), "--out", str(tmp_path / "loop"), "--data-dir", str(data)], capsys)
    assert "--out" in err and "(a loop of links)" in err
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    err = one_line_exit_2(["ensemble", str(a), str(b), "--out", str(tmp_path / "busy"), "--data-dir", str(data)], capsys)
    assert "already holds files" in err
    assert {p.name: p.read_bytes() for p in a.iterdir() if p.is_file()} == before
    assert main(["ensemble", str(a), str(b), "--out", str(tmp_path / "e"), "--data-dir", str(data)]) == 0
    # An ensemble has no model: evaluate and predict say so (and do not suggest --resume).
    from PIL import Image

    Image.new("L", (28, 28), 128).save(tmp_path / "x.png")
    for argv in (["evaluate", str(tmp_path / "e"), "--data-dir", str(data)],
                 ["predict", str(tmp_path / "e"), str(tmp_path / "x.png")]):
        err = one_line_exit_2(argv, capsys)
        assert "is an ensemble" in err and "--resume" not in err


# ---------------------------------------------------------------- damaged run files


@pytest.mark.parametrize("content", ["{not json", "{}", '{"test_accuracy": "high"}', "[1, 2]",
                                     '{"test_accuracy": 0.5, "confusion_matrix": "many"}',
                                     "[" * 100_000 + "]" * 100_000])  # deeper than Python's recursion limit
def test_damaged_metrics_json_is_named(finished, data, tmp_path, capsys, content):
    run = _copy(finished, tmp_path / "run")
    (run / "metrics.json").write_text(content)
    other = _copy(finished, tmp_path / "other")
    for argv in (["evaluate", str(run), "--data-dir", str(data)],
                 ["report", str(run), "--out", str(tmp_path / "r.html")],
                 ["ensemble", str(run), str(other), "--out", str(tmp_path / "e"), "--data-dir", str(data)]):
        err = one_line_exit_2(argv, capsys)
        assert "metrics.json" in err and "damaged" in err


@pytest.mark.parametrize("key", ["best_val_accuracy", "best_val_loss", "final_val_accuracy", "parameters"])
@pytest.mark.parametrize("value", ["x", [1]])
def test_a_formatted_figure_of_the_wrong_type_is_named(finished, data, tmp_path, capsys, key, value):
    """Reports format these and ensembles sum parameters: text or a list there was a traceback."""
    run, other = _copy(finished, tmp_path / "run"), _copy(finished, tmp_path / "other")
    metrics = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**metrics, key: value}))
    for argv in (["report", str(run), "--out", str(tmp_path / "r.html")],
                 ["report", str(other), str(run), "--out", str(tmp_path / "r.html")],
                 ["ensemble", str(other), str(run), "--out", str(tmp_path / "e"), "--data-dir", str(data)]):
        err = one_line_exit_2(argv, capsys)
        assert f"{run / 'metrics.json'}: a run file is damaged ({key} is not a number)" in err, err
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "e").exists()


def test_a_huge_number_in_metrics_json_is_named_without_pythons_advice(finished, tmp_path, capsys):
    run = _copy(finished, tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps(metrics)[:-1] + ', "x": ' + "9" * 5000 + "}")
    err = one_line_exit_2(["report", str(run), "--out", str(tmp_path / "r.html")], capsys)
    assert "metrics.json" in err and "thousands of digits" in err and "set_int_max_str_digits" not in err
    # Hundreds of digits parse, but are no float: a checked field holding one is damage, not an OverflowError.
    (run / "metrics.json").write_text(json.dumps({**metrics, "train_seconds": 0})
                                      .replace('"train_seconds": 0', '"train_seconds": ' + "9" * 400))
    err = one_line_exit_2(["report", str(run), "--out", str(tmp_path / "r.html")], capsys)
    assert "metrics.json" in err and "train_seconds" in err
    assert main(["runs", str(tmp_path)]) == 0  # listed, the field blank


def test_run_files_saved_with_a_byte_order_mark_still_read(finished, data, tmp_path, capsys):
    # A spreadsheet or editor that saves history.csv, predictions.csv or metrics.json may add a UTF-8 BOM.
    run, other = _copy(finished, tmp_path / "run"), _copy(finished, tmp_path / "other")
    for name in ("history.csv", "predictions.csv", "metrics.json", "config.toml", "environment.json"):
        path = run / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    assert main(["ensemble", str(run), str(other), "--out", str(tmp_path / "e"), "--data-dir", str(data)]) == 0
    assert main(["evaluate", str(run), "--data-dir", str(data)]) == 0
    assert main(["runs", str(tmp_path)]) == 0
    assert "ann-2" in capsys.readouterr().out


@pytest.mark.parametrize("damage", [
    lambda m: m["confusion_matrix"].pop(),  # ragged: one row short
    lambda m: m.update(confusion_matrix=[]),
    lambda m: m["confusion_matrix"][0].__setitem__(0, 1e308),
    lambda m: m["per_class"].pop(next(iter(m["per_class"]))),  # a class missing
    lambda m: next(iter(m["per_class"].values())).pop("precision"),
    lambda m: m.update(train_count="many"),
    lambda m: m.update(train_seconds=[1]),
])
def test_inconsistent_metrics_json_is_named_not_a_traceback(finished, tmp_path, capsys, damage):
    run = _copy(finished, tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    damage(metrics)
    (run / "metrics.json").write_text(json.dumps(metrics))
    err = one_line_exit_2(["report", str(run), "--out", str(tmp_path / "r.html")], capsys)
    assert "metrics.json" in err and "damaged" in err


def test_an_empty_run_config_is_named_not_blamed_on_the_weights(finished, data, tmp_path, capsys):
    run = _copy(finished, tmp_path / "run")
    (run / "config.toml").write_text("")
    err = one_line_exit_2(["evaluate", str(run), "--data-dir", str(data)], capsys)
    assert "config.toml: a run file is damaged" in err and "weights" not in err


def test_a_folder_where_metrics_json_belongs_is_named_by_evaluate(finished, data, tmp_path, capsys):
    run = _copy(finished, tmp_path / "run")
    (run / "metrics.json").unlink()
    (run / "metrics.json").mkdir()
    err = one_line_exit_2(["evaluate", str(run), "--data-dir", str(data)], capsys)
    assert "metrics.json: a directory where a run file belongs" in err


def test_evaluate_without_metrics_json_does_not_claim_to_agree(finished, data, tmp_path, capsys):
    run = _copy(finished, tmp_path / "run")
    (run / "metrics.json").unlink()
    assert main(["evaluate", str(run), "--data-dir", str(data)]) == 0
    err = capsys.readouterr().err
    assert "agrees" not in err and "not compared" in err and "metrics.json is missing" in err


@pytest.mark.parametrize("content", ['{"dataset": 3}', "{}", "nul\x00",
                                     '{"dataset": {"release": "fashion-mnist", "checksums": {}}}'])
def test_damaged_environment_json_is_named(finished, data, tmp_path, capsys, content):
    run = _copy(finished, tmp_path / "run")
    (run / "environment.json").write_text(content)
    err = one_line_exit_2(["evaluate", str(run), "--data-dir", str(data)], capsys)
    assert "environment.json" in err and "damaged" in err


@pytest.mark.parametrize("device", [None, "tpu:0", ["cpu"]])
def test_a_damaged_device_record_scores_as_the_config_says(finished, data, tmp_path, capsys, device):
    run = _copy(finished, tmp_path / "run")
    environment = json.loads((run / "environment.json").read_text())
    (run / "environment.json").write_text(json.dumps({**environment, "device": device}))
    assert main(["evaluate", str(run), "--data-dir", str(data)]) == 0
    assert "agrees with the run's metrics.json" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["epoch,train_loss\n1\n", "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds\n1,0.5\n",
                                     "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds\n1,x,0,0,0,0,0\n",
                                     # one validation cell empty: a skipped validation (validation_freq) empties both
                                     "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds\n1,0.5,0.8,,0.7,0.1,2\n",
                                     "\0" * 200_000])  # what a crash can leave: one field over csv's size limit
def test_damaged_history_csv_is_named(finished, tmp_path, capsys, content):
    run = _copy(finished, tmp_path / "run")
    (run / "history.csv").write_text(content)
    err = one_line_exit_2(["report", str(run), "--out", str(tmp_path / "r.html")], capsys)
    assert "history.csv" in err and "damaged" in err


@pytest.mark.parametrize("damage", ["missing", "truncated", "cut at a row", "garbage", "empty", "zeros", "extra column"])
def test_damaged_predictions_csv_is_named(finished, data, tmp_path, capsys, damage):
    run, other = _copy(finished, tmp_path / "run"), _copy(finished, tmp_path / "other")
    path = run / "predictions.csv"
    text = path.read_text()
    if damage == "missing":
        path.unlink()
    else:
        path.write_text({"truncated": text[: len(text) // 2], "cut at a row": "".join(text.splitlines(True)[:50]),
                         "garbage": "a,b\nc\n", "empty": "", "zeros": "\0" * 200_000,
                         "extra column": "".join(line.rstrip("\n") + (",Extra\n" if i == 0 else ",0\n")
                                                 for i, line in enumerate(text.splitlines(True)))}[damage])
    err = one_line_exit_2(["ensemble", str(run), str(other), "--out", str(tmp_path / "e"), "--data-dir", str(data)], capsys)
    assert str(path) in err  # the damaged member, not the intact one
    assert not (tmp_path / "e").exists()


def test_an_ensemble_member_tested_on_other_files_without_a_release_name_is_named(finished, data, tmp_path, capsys):
    run, other = _copy(finished, tmp_path / "run"), _copy(finished, tmp_path / "other")
    environment = json.loads((other / "environment.json").read_text())
    dataset = environment["dataset"]
    dataset.pop("release", None)
    dataset["checksums"] = {name: "0" * 32 for name in dataset["checksums"]}
    (other / "environment.json").write_text(json.dumps(environment))
    err = one_line_exit_2(["ensemble", str(run), str(other), "--out", str(tmp_path / "e"), "--data-dir", str(data)], capsys)
    assert "was tested on other files than" in err and "an unnamed release against" in err


@pytest.mark.parametrize("damage", ["directory", "wrong structure", "other model", "garbage"])
def test_damaged_checkpoint_is_named_and_not_resumed(data, tmp_path, capsys, damage):
    out = _interrupted(data, tmp_path / "run")
    checkpoint = out / "checkpoint.pt"
    if damage == "directory":
        checkpoint.unlink()
        checkpoint.mkdir()
    elif damage == "wrong structure":
        torch.save({"weights": torch.zeros(3)}, checkpoint)
    elif damage == "other model":
        other = _interrupted(data, tmp_path / "cnn", name="cnn-1")
        (other / "checkpoint.pt").replace(checkpoint)
    else:
        checkpoint.write_bytes(b"PK\x03\x04 not a checkpoint")
    err = one_line_exit_2(["train", "--out", str(out), "--resume", "--data-dir", str(data)], capsys)
    assert "checkpoint.pt" in err and "weights_only" not in err
    assert not (out / "weights.pt").exists()


@pytest.mark.parametrize("field, value", [("epoch", "x"), ("epoch", 999), ("step", -1),
                                          ("history", [{"epoch": 1}]), ("best", None)])
def test_a_checkpoint_with_a_damaged_field_is_refused_before_anything_is_written(data, tmp_path, capsys, field, value):
    out = _interrupted(data, tmp_path / "run")  # stopped in epoch 2 of 2: one finished epoch in its history
    checkpoint = torch.load(out / "checkpoint.pt", weights_only=True)
    torch.save({**checkpoint, field: value}, out / "checkpoint.pt")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    err = one_line_exit_2(["train", "--out", str(out), "--resume", "--epochs", "3", "--data-dir", str(data)], capsys)
    assert "checkpoint.pt: damaged" in err and f"its {field}" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # config.toml still says 2 epochs


def test_damaged_weights_file_is_one_line_without_unsafe_advice(finished, data, tmp_path, capsys):
    run = _copy(finished, tmp_path / "run")
    (run / "weights.pt").write_bytes(b"\x80\x02 garbage")
    err = one_line_exit_2(["evaluate", str(run), "--data-dir", str(data)], capsys)
    assert "damaged or not a fashionlab weights file" in err and "weights_only" not in err


@pytest.mark.parametrize("weights, words", [
    ([1, 2, 3], "holds a list that is not a state dict"),
    ({"layer.weight": torch.zeros(3)}, "missing, such as"),
])
def test_weights_that_do_not_fit_are_one_short_line(finished, data, tmp_path, capsys, weights, words):
    run = _copy(finished, tmp_path / "run")
    torch.save(weights, run / "weights.pt")
    err = one_line_exit_2(["evaluate", str(run), "--data-dir", str(data)], capsys)
    assert words in err and "weights.pt" in err and len(err) < 400  # not PyTorch's list of every key


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_outputs_never_overwrite_a_runs_own_files(finished, data, tmp_path, capsys):
    from PIL import Image

    run, other = _copy(finished, tmp_path / "run"), _copy(finished, tmp_path / "other")
    Image.new("L", (28, 28), 128).save(tmp_path / "x.png")
    before, other_before = _files(run), _files(other)
    for argv in (["report", str(run), "--out", str(run / "metrics.json")],
                 ["export", str(run), "--format", "torchscript", "--out", str(run / "weights.pt"), "--data-dir", str(data)],
                 ["predict", str(run), str(tmp_path / "x.png"), "--show", str(tmp_path / "." / "run" / "config.toml")],
                 # another run's files, not only the one read
                 ["report", str(run), "--out", str(other / "metrics.json")],
                 ["export", str(run), "--format", "torchscript", "--out", str(other / "weights.pt"), "--data-dir", str(data)],
                 ["predict", str(run), str(tmp_path / "x.png"), "--show", str(other / "confusion_matrix.png")]):
        err = one_line_exit_2(argv, capsys)
        assert "own" in err and "would destroy that run" in err
    assert _files(run) == before and _files(other) == other_before
    # The figure never replaces a photo it predicts.
    photo = (tmp_path / "x.png").read_bytes()
    err = one_line_exit_2(["predict", str(run), str(tmp_path / "x.png"), "--show", str(tmp_path / "x.png")], capsys)
    assert "--show" in err and "one of the images" in err and (tmp_path / "x.png").read_bytes() == photo
    # Beside the run's files, under a name of its own, a report is fine.
    assert main(["report", str(run), "--out", str(run / "report.html")]) == 0


def test_training_never_overwrites_a_users_files_that_share_a_run_files_name(data, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "summary.txt").write_text("my notes")
    (out / "predictions.csv").write_text("mine")
    err = one_line_exit_2(["train", "ann-2", "--epochs", "1", "--train-limit", "200", "--device", "cpu", "--quiet",
                           "--data-dir", str(data), "--out", str(out)], capsys)
    assert "predictions.csv, summary.txt" in err and "not from a run" in err
    assert sorted(p.name for p in out.iterdir()) == ["predictions.csv", "summary.txt"]
    assert (out / "summary.txt").read_text() == "my notes"


@pytest.fixture
def serve_never_listens(monkeypatch):
    """Were a check before `serve` to regress, it would listen for ever: fail instead."""
    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: pytest.fail("serve started listening"))


def test_weights_with_nan_are_refused_by_predict_export_and_serve(finished, data, tmp_path, capsys, serve_never_listens):
    from PIL import Image

    run = _copy(finished, tmp_path / "run")
    state = torch.load(run / "weights.pt", weights_only=True)
    torch.save({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in state.items()},
               run / "weights.pt")
    Image.new("L", (28, 28), 128).save(tmp_path / "x.png")
    for argv in (["predict", str(run), str(tmp_path / "x.png")],
                 ["export", str(run), "--format", "torchscript", "--out", str(tmp_path / "m.pt"), "--data-dir", str(data)],
                 ["serve", str(run), "--port", "0", "--device", "cpu"],
                 ["evaluate", str(run), "--data-dir", str(data)]):
        err = one_line_exit_2(argv, capsys)
        assert "weights.pt" in err and "NaN" in err and "diverged" in err
    assert not (tmp_path / "m.pt").exists()


def test_export_and_serve_refuse_a_damaged_metrics_json_they_would_publish(finished, data, tmp_path, capsys,
                                                                         serve_never_listens):
    run = _copy(finished, tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**metrics, "test_accuracy": 7.5}))  # shown on /model, in the export
    for argv in (["export", str(run), "--format", "torchscript", "--out", str(tmp_path / "m.pt"), "--data-dir", str(data)],
                 ["serve", str(run), "--port", "0", "--device", "cpu"]):
        err = one_line_exit_2(argv, capsys)
        assert "metrics.json" in err and "damaged" in err
    assert not (tmp_path / "m.pt").exists()


def test_deeply_nested_toml_is_one_line(finished, data, tmp_path, capsys):
    deep = "x = " + "[" * 5000 + "]" * 5000 + "\n"
    (tmp_path / "deep.toml").write_text(deep)
    err = one_line_exit_2(["train", str(tmp_path / "deep.toml"), "--data-dir", str(data), "--out", str(tmp_path / "r")],
                          capsys)
    assert "deep.toml" in err
    err = one_line_exit_2(["sweep", str(tmp_path / "deep.toml"), "--data-dir", str(data), "--out", str(tmp_path / "s")],
                          capsys)
    assert "deep.toml" in err
    err = one_line_exit_2(["train", "ann-2", "--set", "seed=" + "[" * 600, "--data-dir", str(data),
                           "--out", str(tmp_path / "r")], capsys)
    assert "seed" in err
    run = _copy(finished, tmp_path / "run")
    (run / "config.toml").write_text(deep)
    err = one_line_exit_2(["evaluate", str(run), "--data-dir", str(data)], capsys)
    assert "config.toml" in err and "nested too deeply" in err
    assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists()


def test_a_file_system_error_on_a_users_path_is_one_line(data, tmp_path, capsys):
    (tmp_path / "afile").write_text("mine")
    err = one_line_exit_2(["train", "ann-2", "--epochs", "1", "--train-limit", "200", "--device", "cpu", "--quiet",
                           "--data-dir", str(data), "--tensorboard", str(tmp_path / "afile"),
                           "--out", str(tmp_path / "run")], capsys)
    assert "afile" in err and "a file is in the way of a folder" in err
    assert (tmp_path / "afile").read_text() == "mine"


def test_metrics_kind_damage_does_not_crash_kind_queries(finished, tmp_path):
    run = _copy(finished, tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["kind"] = "weird"
    (run / "metrics.json").write_text(json.dumps(metrics))
    assert RunDir(run).kind == "network"


def test_a_run_name_too_long_for_the_system_leaves_no_empty_folders(data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # without --out the run goes to runs/NAME, and runs/ does not exist yet
    config = tmp_path / "long.toml"
    config.write_text(f'extends = "ann-2"\nname = "{"n" * 300}"\n')
    err = one_line_exit_2(["train", str(config), "--epochs", "1", "--train-limit", "200", "--device", "cpu",
                           "--data-dir", str(data), "--quiet"], capsys)
    assert "too long" in err
    assert not (tmp_path / "runs").exists()


def test_evaluate_on_the_validation_split_names_a_damaged_run_file(finished, data, tmp_path, capsys):
    """Damage that would make the comparison with history.csv meaningless is a one-line error naming the file."""
    def edit_metrics(run, **values):
        metrics = json.loads((run / "metrics.json").read_text())
        (run / "metrics.json").write_text(json.dumps({**metrics, **values}))

    cases = {
        "metrics.json": lambda run: edit_metrics(run, epochs_run="1"),  # prints as 1: the type is the damage
        "metrics.json ": lambda run: edit_metrics(run, validation_count=True),
        "history.csv": lambda run: (run / "history.csv").write_text(
            (run / "history.csv").read_text().splitlines()[0] + "\n"),
        "config.toml": lambda run: (run / "config.toml").write_text(
            (run / "config.toml").read_text().replace("validation_split = 0.33", "validation_split = 1e-17")),
    }
    for name, damage in cases.items():
        run = _copy(finished, tmp_path / f"{name.strip()}-{len(name)}")
        damage(run)
        err = one_line_exit_2(["evaluate", str(run), "--split", "validation", "--data-dir", str(data)], capsys)
        assert f"{run / name.strip()}:" in err, err
    # A NaN recorded is a disagreement, not an agreement (NaN compares false with everything).
    run = _copy(finished, tmp_path / "nan")
    rows = (run / "history.csv").read_text().splitlines()
    cells = rows[-1].split(",")
    cells[3] = cells[4] = "nan"  # val_loss, val_accuracy
    (run / "history.csv").write_text("\n".join(rows[:-1] + [",".join(cells)]) + "\n")
    assert main(["evaluate", str(run), "--split", "validation", "--data-dir", str(data)]) == 1
    assert "DISAGREES with history.csv: validation_accuracy: recorded nan" in capsys.readouterr().err


def test_evaluate_names_an_environment_without_dataset_checksums(finished, data, tmp_path, capsys):
    run = _copy(finished, tmp_path / "run")
    environment = json.loads((run / "environment.json").read_text())
    del environment["dataset"]["checksums"]
    (run / "environment.json").write_text(json.dumps(environment))
    for split in ("test", "validation"):
        err = one_line_exit_2(["evaluate", str(run), "--split", split, "--data-dir", str(data)], capsys)
        assert f"{run / 'environment.json'}: records no checksum of" in err
