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
