"""Bad flags and output paths: one line, exit code 2, nothing written."""

import os

import pytest

from fashionlab.cli import main
from conftest import one_line_exit_2

pytestmark = pytest.mark.filterwarnings("ignore:.*unknown.*:UserWarning")


@pytest.mark.parametrize("scale", ["inf", "nan", "0", "-1", "101", "1e300", "1e308"])
def test_reproduce_scale_must_be_positive_and_at_most_100(tmp_path, capsys, scale):
    out = tmp_path / "repro"
    err = one_line_exit_2(["reproduce", f"--scale={scale}", "--out", str(out), "--quiet"], capsys)
    assert "--scale must be a number in (0, 100]" in err and not out.exists()


@pytest.mark.parametrize("flags", [["--per-class", "0"], ["--per-class", "-3"], ["--per-class", "101"],
                                   ["--seed", "-1"]])
def test_data_show_bad_numbers(synthetic_dir, tmp_path, capsys, flags):
    out = tmp_path / "grid.png"
    err = one_line_exit_2(["data", "show", "--data-dir", str(synthetic_dir), "--out", str(out), *flags], capsys)
    assert flags[0] in err and not out.exists()


def _bad_outputs(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    plain = tmp_path / "plain.txt"
    plain.write_text("a regular file")
    return [
        (folder, "is a directory"),
        (plain / "x.png", f"{plain} is a file, not a folder"),
        (plain / "deeper" / "x.png", f"{plain} is a file, not a folder"),
    ]


def test_data_show_out_that_cannot_be_a_file(synthetic_dir, tmp_path, capsys):
    for out, words in _bad_outputs(tmp_path):
        err = one_line_exit_2(["data", "show", "--data-dir", str(synthetic_dir), "--out", str(out)], capsys)
        assert f"--out {out}" in err and words in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "plain.txt", "synthetic"]
    assert list((tmp_path / "folder").iterdir()) == []


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from conftest import write_dataset
    from fashionlab.experiment import load_config
    from fashionlab.training import train

    root = tmp_path_factory.mktemp("cli-edge")
    return train(load_config("ann-3", {"epochs": 1, "device": "cpu"}), root / "run",
                 data_dir=write_dataset(root / "data"), progress=False, log=lambda s: None).run_dir


def test_report_out_that_cannot_be_a_file(run_dir, tmp_path, capsys):
    for out, words in _bad_outputs(tmp_path):
        err = one_line_exit_2(["report", str(run_dir), "--out", str(out)], capsys)
        assert f"--out {out}" in err and words in err
    assert list((tmp_path / "folder").iterdir()) == []
    fifo = tmp_path / "pipe.html"
    import os

    os.mkfifo(fifo)
    err = one_line_exit_2(["report", str(run_dir), "--out", str(fifo)], capsys)
    assert "named pipe" in err and fifo.is_fifo()  # not replaced by a file
    assert main(["report", str(run_dir), "--out", str(tmp_path / "new" / "report.html")]) == 0


@pytest.mark.parametrize("flags, words", [(["--seed", "-1"], "--seed -1"), (["--seed", str(2**32)], "--seed"),
                                          (["--train-limit", "-5"], "--train-limit -5")])
def test_baselines_bad_numbers(synthetic_dir, tmp_path, capsys, flags, words):
    out = tmp_path / "baselines"
    err = one_line_exit_2(["baselines", "--methods", "logreg", "--data-dir", str(synthetic_dir),
                            "--out", str(out), *flags], capsys)
    assert words in err and not out.exists()


@pytest.mark.parametrize("argv, words", [
    (["train", "ann-1", "--seeds", "x"], "argument --seeds: invalid int value: 'x' (see `fashionlab train --help`)"),
    (["runs", "--top", "3"], "unrecognized arguments: --top"),
    (["nosuch"], "invalid choice: 'nosuch'"),
    ([], "required: COMMAND"),
])
def test_usage_errors_are_one_line_too(capsys, argv, words):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1 and words in err, err


def test_a_failed_atomic_write_names_the_file_asked_for_not_its_temporary_sibling(tmp_path):
    from fashionlab.fileio import atomic_write_text

    (tmp_path / "folder").mkdir()  # the final rename onto a folder fails (EISDIR), naming the temporary file
    with pytest.raises(OSError) as caught:
        atomic_write_text(tmp_path / "folder", "x")
    assert caught.value.filename == str(tmp_path / "folder") and caught.value.filename2 is None
    assert os.listdir(tmp_path) == ["folder"]  # the temporary file is gone


@pytest.mark.parametrize("command", ["evaluate", "export"])
def test_a_run_argument_that_is_a_file_or_nothing_says_which(tmp_path, capsys, command):
    a_file = tmp_path / "metrics.json"
    a_file.write_text("{}")
    err = one_line_exit_2([command, str(a_file)], capsys)
    assert f"{a_file} is a file, not a run directory" in err and "--out" in err
    err = one_line_exit_2([command, str(tmp_path / "nowhere")], capsys)
    assert "no such run directory" in err


@pytest.mark.parametrize("argv", [["models", "list"], ["models", "show", "cnn-2"]])
def test_output_into_a_closed_pipe_ends_quietly(argv):
    """`fashionlab models list | head -1`: the reader has gone, so no traceback and no 'Exception ignored'."""
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "fashionlab", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # before the interpreter has started: every write meets a closed pipe
    err = process.stderr.read().decode()
    assert process.wait() == 0 and err == ""


@pytest.mark.parametrize("title, words", [("bad\udcff", "not valid Unicode text"), ("two\nlines", "control character")])
def test_report_title_must_be_one_line_of_text(tmp_path, capsys, title, words):
    """A title from undecodable argv bytes (Python's surrogate escapes) could not be written as UTF-8 HTML."""
    out = tmp_path / "r.html"
    err = one_line_exit_2(["report", str(tmp_path), "--title", title, "--out", str(out)], capsys)
    assert "--title" in err and words in err and not out.exists()


@pytest.mark.parametrize("argv", [["report", "RUN", "--out", "OUT/"], ["data", "show", "--out", "OUT/"]])
def test_an_out_with_a_trailing_slash_names_a_folder_not_a_file(tmp_path, capsys, argv):
    """Path("new/") is Path("new"): the file would have taken the new folder's name."""
    out = tmp_path / "new"
    argv = [str(out) + "/" if a == "OUT/" else str(tmp_path) if a == "RUN" else a for a in argv]
    err = one_line_exit_2(argv, capsys)
    assert f"--out {out}/ names a folder; give a file name inside it" in err and not out.exists()
