import os
import re
import shutil
import struct
import subprocess

import numpy as np
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
    assert "Comparison" in html and "Confusion matrices side by side" in html
    # The paper's ann-3 and cnn-1 values, marked: 2-epoch runs are not at the paper's protocol.
    assert "paper val acc" in html and "0.89*" in html and "0.92*" in html and "not comparable" in html
    # Comparison: overlaid curves, per-class bars, 2 confusion matrices side by side. With two runs the
    # ANN-against-CNN chart would repeat the per-class chart, so it is not drawn. Each run: its curves,
    # normalised confusion matrix, misclassified grid and model diagram.
    assert "ANN against CNN" not in html
    assert "†" not in html and "validated epochs" not in html  # both runs validated after every epoch
    assert html.count("data:image/png") == 4 + 2 * 4
    sources = re.findall(r'src="(data:[^"]*)"', html)
    assert len(set(sources)) == len(sources), "the same figure twice"


def test_report_of_a_non_run_is_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} is no run directory (no config.toml, metrics.json or weights.pt)" in err
    assert "train it again" not in err and not (tmp_path / "x.html").exists()


def test_a_folder_of_runs_given_as_a_run_names_some_of_them(tmp_path, capsys):
    """`fashionlab evaluate runs` was told its run had lost its checkpoint and must be trained again."""
    for name in ("b", "a"):
        (tmp_path / "runs" / "group" / name).mkdir(parents=True)
        for file in ("config.toml", "metrics.json"):
            (tmp_path / "runs" / "group" / name / file).write_text("")
    for argv in (["evaluate", str(tmp_path / "runs")], ["export", str(tmp_path / "runs")],
                 ["report", str(tmp_path / "runs"), "--out", str(tmp_path / "x.html")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert (f"{tmp_path / 'runs'} is no run directory (no config.toml, metrics.json or weights.pt); it holds runs, "
                f"such as {tmp_path / 'runs/group/a'}, {tmp_path / 'runs/group/b'} (`fashionlab runs") in err, err


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
    assert "Scaled or short run" in html and "ann-1 2 of 1000 epochs" in html and "--scale 0.002" in html
    md = first.summary.read_text()
    assert md.count("\n| ann-") == 3 and md.count("\n| cnn-") == 3
    assert "| 0.93* |" in md and "not comparable" in md  # the paper's cnn-2 val acc, beside a 1-epoch run
    assert "Scaled or short run" in md
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
    printed, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "Run the same command again to continue" in err
    # Experiments still queued at the Ctrl-C never start (they trained after it until session 27); how many
    # had started depends on how fast the tiny ones ran, so the test checks the two lists agree.
    started = {p.parent.name for p in out.glob("*/config.toml")}
    line = next((l for l in (printed + err).splitlines() if "not started: " in l), "not started: ")
    not_started = {name for name in line.split("not started: ", 1)[1].split(", ") if name}
    assert started | not_started == set(PAPER_EXPERIMENTS) and not started & not_started, (started, not_started)
    assert any((out / name / "checkpoint.pt").is_file() and not (out / name / "weights.pt").exists()
               for name in PAPER_EXPERIMENTS)
    finished = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert all((out / name / "weights.pt").is_file() for name in PAPER_EXPERIMENTS)


def test_reproduce_jobs_prints_one_line_warnings_and_leaves_nothing_when_the_data_fails(synthetic_dir, tmp_path, capfd):
    """Spawned workers start without the CLI's warning format; a failure in every worker left an empty --out."""
    import shutil

    from fashionlab.errors import UserError

    broken = tmp_path / "broken"
    shutil.copytree(synthetic_dir, broken)
    images = broken / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:200])
    out = tmp_path / "new" / "repro"
    kwargs = dict(scale=0.01, overrides={"device": "cpu", "train_limit": 100}, experiments=("ann-3", "ann-2"),
                  progress=False, log=lambda s: None, jobs=2)
    with pytest.raises(UserError, match="t10k-images-idx3-ubyte.gz: the gzip stream is corrupt"):
        reproduce(out, data_dir=broken, **kwargs)
    assert not (tmp_path / "new").exists()  # the folders it made, removed again
    reproduce(out, data_dir=synthetic_dir, **kwargs)
    err = capfd.readouterr().err  # the workers' stderr, at the file-descriptor level
    assert "fashionlab: warning: " in err and "Warning:" not in err and ".py:" not in err, err[-2000:]


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


# ---------------------------------------------------------------- reports from run files alone
# Run directories written directly (no training): config, environment, history and metrics, without
# weights, predictions or figures, as the committed evidence under docs/results/ holds them.

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def fake_run(path, name="cnn-2", *, epochs=50, seed=0, accuracy=0.9, kind="network", config=None, metrics=None,
             release="fashion-mnist-2017-08-26"):
    from fashionlab.experiment import load_config, preset_names
    from fashionlab.runs import RunDir

    run = RunDir(path)
    path.mkdir(parents=True)
    values = load_config(name).to_dict() if name in preset_names() and kind == "network" else {"name": name}
    run.write_config({**values, "seed": seed, **(config or {})})
    run.write_json(run.environment, {"seed": seed, "precision": "fp32", "device": "cpu",
                                     "dataset": {"release": release}})
    run.write_history([{"epoch": e, "train_loss": 1 / e, "train_accuracy": accuracy - 0.1 / e, "val_loss": 1.2 / e,
                        "val_accuracy": accuracy - 0.12 / e, "lr": 0.01, "seconds": 1.0}
                       for e in range(1, epochs + 1)])
    per_class = {c: {"precision": accuracy, "recall": accuracy, "f1": accuracy, "accuracy": accuracy - 0.01 * i,
                     "support": 1000} for i, c in enumerate(CLASSES)}
    matrix = [[int(1000 * accuracy) if i == j else 0 for j in range(10)] for i in range(10)]
    run.write_metrics({"test_accuracy": accuracy, "test_loss": 0.3, "classes": CLASSES, "per_class": per_class,
                       "confusion_matrix": matrix, "best_val_accuracy": accuracy, **(metrics or {})}, kind)
    return path


def report_html(tmp_path, *runs, name="r.html"):
    out = tmp_path / name
    assert main(["report", *map(str, runs), "--out", str(out)]) == 0
    html = out.read_text()
    _self_contained(html)
    return html


def table_rows(html):
    """The comparison table's rows as lists of cell texts (tags stripped)."""
    table = html.split("<h2>Comparison</h2>")[1].split("</table>")[0]
    return [[re.sub(r"<[^>]+>", "", c.replace("<br>", " ")) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table)]


def test_runs_that_share_an_experiment_name_get_unique_labels(tmp_path):
    from fashionlab.report.groups import group_runs
    from fashionlab.runs import load_run

    runs = [fake_run(tmp_path / "quick" / "cnn-2", epochs=1, accuracy=0.8),
            fake_run(tmp_path / "cnn2-short", epochs=2, accuracy=0.82),
            fake_run(tmp_path / "full" / "cnn-2", epochs=3, accuracy=0.84),
            fake_run(tmp_path / "mine", epochs=2, accuracy=0.85, config={"label": "my label"}),
            fake_run(tmp_path / "fast", name="fast", epochs=4, accuracy=0.93)]
    labels = [e.label for e in group_runs([load_run(r) for r in runs])]
    assert labels == ["quick/cnn-2", "cnn2-short (cnn-2)", "full/cnn-2", "my label", "fast"]
    rows = table_rows(report_html(tmp_path, *runs))
    assert [r[0] for r in rows[1:]] == labels
    assert rows[0][1] == "experiment" and [r[1] for r in rows[1:]] == ["cnn-2"] * 4 + ["fast"]


def _captured(monkeypatch):
    """Figures drawn by fashionlab.figures, kept open for inspection instead of saved."""
    from fashionlab import figures

    drawn = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, path, dpi=figures.DPI: drawn.append(fig))
    return drawn


def test_grouped_bars_stand_side_by_side_from_zero_with_values_and_the_legend_below(monkeypatch, tmp_path):
    from fashionlab import figures

    drawn = _captured(monkeypatch)
    series = {f"run {i}": [0.5 + 0.04 * i + 0.01 * k for k in range(10)] for i in range(5)}
    figures.per_class_accuracy_bars(series, CLASSES, tmp_path / "x.png")
    fig = drawn[0]
    ax = fig.axes[0]
    bars = [p for p in ax.patches]
    assert len(bars) == 50
    spans = sorted((b.get_x(), b.get_x() + b.get_width()) for b in bars)
    assert all(a[1] <= b[0] + 1e-9 for a, b in zip(spans, spans[1:])), "bars drawn over each other"
    assert ax.get_ylim()[0] == 0
    assert len([t for t in ax.texts if re.fullmatch(r"0\.\d\d", t.get_text())]) == 50  # a value on every bar
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == list(series)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert legend.get_window_extent(renderer).y1 <= ax.get_window_extent(renderer).y0, "legend covers the bars"


def test_curves_have_whole_epoch_ticks_one_entry_per_run_seed_bands_and_no_baselines(monkeypatch, tmp_path):
    from fashionlab import figures

    drawn = _captured(monkeypatch)

    def history(n, shift=0.0):
        return [{"epoch": e, "train_loss": 1 / e, "train_accuracy": 0.8 + shift, "val_loss": 1 / e,
                 "val_accuracy": 0.79 + shift + 0.01 * e} for e in range(1, n + 1)]

    figures.overlaid_curves({"a": [history(10)], "b": [history(10)], "seeds": [history(10), history(10, 0.02)],
                             "logreg": [[]]}, tmp_path / "x.png")
    fig = drawn[0]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["a", "b", "seeds (mean ± sd, n=2)", "validation", "training"]
    fig.canvas.draw()
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        assert len(ax.collections) == 1  # the seed group's ± sd band
        band = ax.collections[0].get_paths()[0].vertices[:, 1]
        if ax is fig.axes[0]:  # accuracy: the two seeds differ by 0.02 everywhere, sd = 0.02 / sqrt(2)
            assert band.max() - band.min() == pytest.approx(0.09 + 2 * 0.02 / 2 ** 0.5, abs=1e-6)


def test_user_text_with_math_markup_is_drawn_as_plain_text(tmp_path):
    """`$\\foo{$` is invalid mathtext: matplotlib raised on it before names were escaped."""
    from fashionlab import figures

    name = r"$\foo{$"
    run = fake_run(tmp_path / "odd", name="cnn-2", epochs=2, config={"name": name, "description": r"a $x^{$ test"})
    other = fake_run(tmp_path / "other", epochs=2)
    html = report_html(tmp_path, run, other)
    assert escape_html(name) in html
    history = [{"epoch": 1, "train_loss": 1, "train_accuracy": 0.5, "val_loss": 1, "val_accuracy": 0.5}]
    figures.overlaid_curves({name: [history]}, tmp_path / "c.png", title=name)
    figures.confusion_matrix_figure(np.eye(2), [name, "$b"], tmp_path / "m.png", title=name)
    figures.per_class_accuracy_bars({name: [0.5, 0.6]}, [name, "b$"], tmp_path / "b.png", title=name)
    assert figures.plain(name) != name and png_size(tmp_path / "m.png")[0] > 500


def test_characters_the_font_lacks_are_one_warning_per_process_not_one_per_glyph(tmp_path, monkeypatch):
    import warnings

    from fashionlab import figures

    monkeypatch.setattr(figures, "_glyphs_warned_about", set())
    history = [{"epoch": 1, "train_loss": 1, "train_accuracy": 0.5, "val_loss": 1, "val_accuracy": 0.5}]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figures.overlaid_curves({"衬衫 run": [history], "±1 run": [history]}, tmp_path / "c.png", title="衬衫")
        figures.overlaid_curves({"衬衫 run": [history]}, tmp_path / "d.png")
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "'衫衬'" in messages[0] and "Noto Sans CJK" in messages[0], messages
    assert png_size(tmp_path / "d.png")[0] > 500  # still drawn, the two characters as boxes


def escape_html(text):
    from html import escape

    return escape(text)


def test_short_runs_keep_their_caveats_and_the_paper_value_only_beside_full_protocol(tmp_path):
    full = fake_run(tmp_path / "full", name="cnn-2", epochs=50, accuracy=0.92)
    short = fake_run(tmp_path / "short", name="cnn-2", epochs=1, accuracy=0.8,
                     config={"train_limit": 3000, "epochs": 1})
    html = report_html(tmp_path, full, short)
    assert "Scaled or short run" in html and "short (cnn-2) 1 of 50 epochs" in html
    assert "the first 3,000 training images" in html
    rows = {r[0]: r for r in table_rows(html)[1:]}
    header = table_rows(html)[0]
    paper = header.index("paper val acc")
    assert rows["full (cnn-2)"][paper] == "0.93" and rows["short (cnn-2)"][paper] == "0.93*"
    assert "Grey: not comparable with the paper" in html and "first 3,000 training images only" in html
    # The description is the preset's ("50 epochs"); the short run's says what it ran.
    assert "1 of 50 epochs, batch 32" in html and "SGD (Keras default lr 0.01), 50 epochs, batch 32" in html
    # Alone, the short run still says so.
    alone = report_html(tmp_path, short, name="alone.html")
    assert "Scaled or short run" in alone and "paper&#x27;s val accuracy, not comparable" in alone


def test_every_run_shows_its_training_set_size_and_one_release_name(tmp_path):
    network = fake_run(tmp_path / "cnn", name="cnn-2", epochs=2, config={"train_limit": 3000, "release": "fashion-mnist"})
    baseline = fake_run(tmp_path / "logreg", name="logreg", epochs=0, kind="baseline", metrics={"train_count": 5000})
    html = report_html(tmp_path, network, baseline)
    rows = table_rows(html)
    size = rows[0].index("train images")
    assert {r[0]: r[size] for r in rows[1:]} == {"cnn-2": "2,400", "logreg": "5,000"}  # 3,000 less the 20% held out
    assert "learnt from different numbers of training images (2,400 to 5,000)" in html
    assert "fashion-mnist-2017-08-26 (asked as fashion-mnist)" in html
    assert "<td>fashion-mnist</td>" not in html
    # The baseline has no epochs: it is named under the curves, not drawn in them.
    assert "Without epochs, so without curves: logreg." in html


def test_runs_that_differ_only_by_seed_are_one_group_with_mean_and_sd(tmp_path):
    import statistics

    from fashionlab.report.groups import group_runs
    from fashionlab.runs import load_run

    accuracies = [0.90, 0.91, 0.93]
    seeds = [fake_run(tmp_path / "seeds" / f"seed-{i}", epochs=5, seed=i, accuracy=a) for i, a in enumerate(accuracies)]
    other_lr = fake_run(tmp_path / "lr", epochs=5, seed=3, accuracy=0.8, config={"lr": 0.1})
    # A run saved before `deterministic` existed groups with runs that hold its default.
    config = (tmp_path / "seeds" / "seed-0" / "config.toml")
    config.write_text("\n".join(line for line in config.read_text().splitlines() if not line.startswith("deterministic")))
    same_seed = [fake_run(tmp_path / "again" / x, name="fast", epochs=4, seed=0) for x in ("a", "b")]
    entries = group_runs([load_run(r) for r in (*seeds, other_lr, *same_seed)])
    assert [(e.label, e.n) for e in entries] == [("seeds (cnn-2)", 3), ("lr (cnn-2)", 1), ("a (fast)", 1),
                                                 ("b (fast)", 1)]
    html = report_html(tmp_path, *seeds, other_lr)
    rows = table_rows(html)
    header = rows[0]
    group = rows[1]
    assert group[header.index("n")] == "3"
    expected = f"{statistics.fmean(accuracies):.4f} ± {statistics.stdev(accuracies):.4f}"
    assert group[header.index("test acc")] == expected == "0.9133 ± 0.0153"
    assert rows[2][header.index("n")] == "1"
    assert "1 seed group(s)" in html and "seeds (cnn-2) · seed 2" in html  # each member still has its section


def test_model_diagram_draws_residual_connections(monkeypatch, tmp_path):
    from fashionlab import figures
    from fashionlab.models.registry import build_model
    from fashionlab.models.summary import summarize

    rows = summarize(build_model("fastnet")).rows
    skips = [(i, r.skip_from) for i, r in enumerate(rows) if r.skip_from is not None]
    assert len(skips) == 2 and all(rows[i].name == "BatchNormalization" and i - start == 4 for i, start in skips)
    assert all(r.skip_from is None for r in summarize(build_model("cnn-2")).rows)
    drawn = _captured(monkeypatch)
    figures.model_diagram(rows, tmp_path / "m.png", title="fastnet")
    assert [t.get_text() for t in drawn[0].axes[0].texts].count("+ residual") == 2


def test_report_figures_are_sharp_wide_and_open_full_size(two_runs, tmp_path):
    html = report_html(tmp_path, two_runs[1])
    images = re.findall(r'<label class="zoom"[^>]*><input type="checkbox"[^>]*><span><img alt="([^"]*)" '
                        r'width="(\d+)" src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == html.count("<img") == len(FIGURES)
    import base64

    for alt, width, data in images:
        png = base64.b64decode(data)
        pixels = int.from_bytes(png[16:20], "big")
        assert int(width) == round(pixels * 96 / 150)  # drawn at 150 dpi, shown at its size in inches
        if alt.startswith("Learning curves"):
            assert pixels >= 1400 and int(width) >= 900  # not a 360-px column


def test_a_click_opens_a_figure_full_size_and_another_closes_it(two_runs, tmp_path):
    chromium, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromedriver are not installed; .ci/run installs chromium and chromium-driver")
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    out = tmp_path / "one.html"
    main(["report", str(two_runs[1]), "--out", str(out)])
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    try:
        browser.get(out.as_uri())
        image = browser.find_element(By.CSS_SELECTOR, 'img[alt^="Learning curves"]')
        frame = image.find_element(By.XPATH, "..")
        shown = image.size["width"]
        assert frame.value_of_css_property("position") == "static"
        assert shown >= 900  # its drawn size: 10 inches at 96 px each, not a 360-px column
        image.click()
        assert frame.value_of_css_property("position") == "fixed"  # an overlay over the whole window
        assert frame.size["width"] == browser.execute_script("return document.documentElement.clientWidth")
        assert image.size["width"] > shown
        image.click()
        assert frame.value_of_css_property("position") == "static" and image.size["width"] == shown
    finally:
        browser.quit()
