import os
import re
import shutil
import struct
import subprocess

import pytest

from fashionlab.cli import main
from fashionlab.experiment import load_config
from fashionlab.reproduce import PAPER_EXPERIMENTS, reproduce
from fashionlab.training import train

pytestmark = pytest.mark.filterwarnings("ignore:.*unknown.*:UserWarning")

FIGURES = ["learning_curves.png", "confusion_matrix.png", "confusion_matrix_normalized.png",
           "per_class_accuracy.png", "misclassified.png", "model.png"]


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    from conftest import write_dataset

    base = tmp_path_factory.mktemp("report")
    data = write_dataset(base / "data")
    runs = []
    for name in ("ann-3", "cnn-1"):
        config = load_config(name, {"epochs": 2, "device": "cpu"})
        runs.append(train(config, base / name, data_dir=data, progress=False, log=lambda s: None).run_dir)
    return runs


def test_run_figures_are_valid_pngs_of_sane_size(two_runs):
    for run in two_runs:
        for name in FIGURES:
            width, height = png_size(run / name)
            assert 200 <= width <= 4000 and 150 <= height <= 4000, (name, width, height)
            assert (run / name).stat().st_size > 5_000


def _self_contained(html: str):
    assert not re.search(r"https?://", html), "external URL in the report"
    assert "<script" not in html and "<link" not in html
    sources = re.findall(r'src="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)


def test_single_run_report(two_runs, tmp_path):
    out = tmp_path / "one.html"
    assert main(["report", str(two_runs[1]), "--out", str(out)]) == 0
    html = out.read_text()
    _self_contained(html)
    assert html.count("data:image/png") == len(FIGURES)
    for text in ("test accuracy", "Per-class report", "Config", "Environment", "optimizer", "adam", "Trouser"):
        assert text in html


def test_comparison_report(two_runs, tmp_path):
    out = tmp_path / "two.html"
    assert main(["report", *map(str, two_runs), "--out", str(out)]) == 0
    html = out.read_text()
    _self_contained(html)
    assert "Comparison" in html and "ANN against CNN" in html and "Confusion matrices side by side" in html
    assert "paper val acc" in html and "0.89" in html and "0.92" in html  # the paper's ann-3 and cnn-1 values
    # 2 x 6 run figures + overlaid curves + per-class of all + ANN/CNN + 2 confusion matrices side by side
    assert html.count("data:image/png") == 2 * len(FIGURES) + 3 + 2


def test_report_of_a_non_run_is_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "x.html")]) == 2
    assert "not a complete run directory" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def test_report_opens_in_headless_chromium_without_console_errors(two_runs, tmp_path):
    browser = _chromium()
    out = tmp_path / "two.html"
    main(["report", *map(str, two_runs), "--out", str(out)])
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
         "--dump-dom", out.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "fashionlab: 2 runs compared" in proc.stdout  # the page was parsed and rendered
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console


def test_reproduce_tiny_scale_runs_end_to_end_and_restarts_without_redoing(synthetic_dir, tmp_path, capsys):
    out = tmp_path / "repro"
    first = reproduce(out, scale=0.002, data_dir=synthetic_dir, overrides={"device": "cpu"}, progress=False,
                      log=lambda s: None)
    assert first.trained == list(PAPER_EXPERIMENTS) and first.skipped == []
    html = first.report.read_text()
    _self_contained(html)
    assert "Scaled run" in html and "ann-1 2 of 1000" in html
    md = first.summary.read_text()
    assert md.count("\n| ann-") == 3 and md.count("\n| cnn-") == 3 and "0.93" in md  # the paper's cnn-2 val acc
    for name in PAPER_EXPERIMENTS:
        assert len((out / name / "history.csv").read_text().splitlines()) - 1 == max(1, round(load_config(name).epochs * 0.002))

    stamp = (out / "ann-1" / "weights.pt").stat().st_mtime_ns
    (out / "cnn-1" / "metrics.json").unlink()  # as if stopped after training, before evaluation
    second = reproduce(out, scale=0.002, data_dir=synthetic_dir, overrides={"device": "cpu"}, progress=False,
                      log=lambda s: None)
    assert second.skipped == [n for n in PAPER_EXPERIMENTS if n != "cnn-1"] and second.trained == ["cnn-1"]
    assert (out / "ann-1" / "weights.pt").stat().st_mtime_ns == stamp

    # Another scale into the same folder is refused rather than mixed.
    assert main(["reproduce", "--scale", "0.004", "--out", str(out), "--data-dir", str(synthetic_dir), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "another --out" in err and "epochs 2 there, 4 asked" in err
    # So is another setting, named as such (not as epochs and train_limit).
    assert main(["reproduce", "--scale", "0.002", "--set", "seed=1", "--out", str(out), "--data-dir", str(synthetic_dir),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "seed 0 there, 1 asked" in err and "epochs" not in err


def test_reproduce_jobs_trains_in_parallel_processes_with_the_same_numbers(synthetic_dir, tmp_path):
    names = ("ann-3", "cnn-1")
    kwargs = dict(scale=0.02, data_dir=synthetic_dir, overrides={"device": "cpu", "train_limit": 300},
                  experiments=names, progress=False, log=lambda s: None)
    one = reproduce(tmp_path / "one", **kwargs)
    two = reproduce(tmp_path / "two", jobs=2, **kwargs)
    assert sorted(two.trained) == sorted(names)
    for name in names:  # same seed, device and versions: the same numbers, in a worker process or not
        first = (tmp_path / "one" / name / "history.csv").read_text().splitlines()
        second = (tmp_path / "two" / name / "history.csv").read_text().splitlines()
        strip = lambda rows: [r.rsplit(",", 1)[0] for r in rows]  # drop the seconds column
        assert strip(first) == strip(second)
    assert two.summary.is_file() and one.summary.read_text().count("| ann-3") == two.summary.read_text().count("| ann-3")


def test_reproduce_jobs_ctrl_c_checkpoints_every_worker_and_resumes(synthetic_dir, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "repro"
    cmd = [sys.executable, "-m", "fashionlab", "reproduce", "--scale", "0.05", "--jobs", "2", "--out", str(out),
           "--data-dir", str(synthetic_dir), "--set", "device=cpu", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120  # Ctrl-C, as a terminal sends it to the process group, once both are training
    while time.time() < deadline and len(list(out.glob("*/history.csv"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "Run the same command again to continue" in err
    assert any((out / name / "checkpoint.pt").is_file() and not (out / name / "weights.pt").exists()
               for name in PAPER_EXPERIMENTS)
    finished = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert all((out / name / "weights.pt").is_file() for name in PAPER_EXPERIMENTS)


def test_ensemble_averages_member_probabilities(two_runs, tmp_path, capsys):
    import json

    from fashionlab.runs import RunDir

    data = two_runs[0].parent / "data"
    out = tmp_path / "ens"
    assert main(["ensemble", *map(str, two_runs), "--out", str(out), "--data-dir", str(data)]) == 0
    assert "ensemble of 2" in capsys.readouterr().out
    labels, mean = RunDir(out).read_predictions()
    _, a = RunDir(two_runs[0]).read_predictions()
    _, b = RunDir(two_runs[1]).read_predictions()
    assert abs(mean - (a + b) / 2).max() < 1e-5  # written to 6 significant digits
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] == pytest.approx(((a + b).argmax(1) == labels).mean())
    assert set(metrics["members"]) == {str(p) for p in two_runs}
    assert main(["ensemble", str(two_runs[0]), "--out", str(tmp_path / "one")]) == 2
    capsys.readouterr()
    # An ensemble has no model of its own: evaluate and predict say so, rather than "finish it with --resume".
    assert RunDir(out).kind == "ensemble" and RunDir(two_runs[0]).kind == "network"
    assert main(["evaluate", str(out), "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert "is an ensemble" in err and "--resume" not in err


def test_report_takes_model_families_from_the_registry_not_from_names(two_runs, tmp_path):
    """A baseline is no CNN: only networks count as ANN or CNN, by the registry's family of their model."""
    from fashionlab import load_dataset
    from fashionlab.baselines import run_baseline
    from fashionlab.runs import load_run

    data = two_runs[0].parent / "data"
    logreg = tmp_path / "logreg"
    run_baseline("logreg", load_dataset(data_dir=data), logreg, log=lambda s: None)
    assert [load_run(p).family for p in (*two_runs, logreg)] == ["ann", "cnn", None]
    assert [load_run(p).kind for p in (*two_runs, logreg)] == ["network", "network", "baseline"]
    out = tmp_path / "mixed.html"
    assert main(["report", str(two_runs[0]), str(logreg), "--out", str(out)]) == 0
    html = out.read_text()
    assert "ANN against CNN" not in html and "best CNN" not in html
