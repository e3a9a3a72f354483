import json

import pytest

from fashionlab.baselines import BASELINES
from fashionlab.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:.*unknown.*:UserWarning", "ignore::sklearn.exceptions.ConvergenceWarning")


def test_every_baseline_writes_a_run_directory_the_report_reads(synthetic_dir, tmp_path, capsys):
    out = tmp_path / "baselines"
    assert main(["baselines", "--data-dir", str(synthetic_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for name in BASELINES:
        run = out / name
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["test_count"] == 100 and metrics["train_seconds"] > 0 and metrics["kind"] == "baseline"
        assert metrics["test_accuracy"] > 0.5, (name, metrics["test_accuracy"])  # the synthetic task is easy
        assert len((run / "predictions.csv").read_text().splitlines()) == 101
        assert (run / "confusion_matrix.png").is_file() and (run / "history.csv").read_text().startswith("epoch,")
        assert name in printed
    report = tmp_path / "r.html"
    assert main(["report", *(str(out / n) for n in BASELINES), "--out", str(report)]) == 0
    assert "random-forest" in report.read_text()
    # A baseline has no saved model: evaluate says so instead of failing obscurely.
    assert main(["evaluate", str(out / "logreg")]) == 2
    assert "classical baseline" in capsys.readouterr().err


def test_real_data_logreg_on_a_subset(real_data, tmp_path):
    from fashionlab import load_dataset
    from fashionlab.baselines import run_baseline

    metrics = run_baseline("logreg", load_dataset(data_dir=real_data), tmp_path / "logreg", train_limit=5000,
                           log=lambda s: None)
    assert metrics["test_count"] == 10_000 and 0.78 < metrics["test_accuracy"] < 0.9


def test_a_finished_baseline_is_never_replaced_and_a_method_named_twice_runs_once(synthetic_dir, tmp_path, capsys):
    from conftest import one_line_exit_2

    out = tmp_path / "b"
    argv = ["baselines", "--methods", "logreg", "logreg", "--data-dir", str(synthetic_dir), "--out", str(out)]
    assert main(argv) == 0
    assert capsys.readouterr().out.count("logreg: test accuracy") == 1
    metrics = (out / "logreg" / "metrics.json").read_bytes()
    err = one_line_exit_2(argv + ["--train-limit", "50"], capsys)
    assert str(out / "logreg") in err and "already holds a run" in err
    assert (out / "logreg" / "metrics.json").read_bytes() == metrics


@pytest.mark.parametrize("method, limit, words", [("logreg", "1", "one class"), ("hog-linear-svm", "1", "one class"),
                                                  ("svc-rbf", "50", "at least 100")])
def test_a_training_set_too_small_for_the_method_is_one_line(synthetic_dir, tmp_path, capsys, method, limit, words):
    from conftest import one_line_exit_2

    err = one_line_exit_2(["baselines", "--methods", method, "--train-limit", limit, "--data-dir", str(synthetic_dir),
                           "--out", str(tmp_path / "b")], capsys)
    assert "--train-limit" in err and words in err
    assert not (tmp_path / "b" / method / "metrics.json").exists()
