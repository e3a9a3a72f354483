"""`train --seeds`: one run per seed, a mean ± sd summary, restartable."""

import json
import statistics

import pytest

from fashionlab.cli import main
from fashionlab.experiment import load_config
from fashionlab.seeds import mean_sd, train_seeds
from fashionlab.training import Interrupted

pytestmark = pytest.mark.filterwarnings("ignore:.*unknown.*:UserWarning")


def test_mean_sd_is_the_sample_standard_deviation():
    stats = mean_sd([0.9, 0.92, 0.95])
    assert stats["mean"] == pytest.approx(statistics.mean([0.9, 0.92, 0.95]))
    assert stats["sd"] == pytest.approx(statistics.stdev([0.9, 0.92, 0.95])) and stats["n"] == 3
    assert mean_sd([0.5])["sd"] is None


def test_seeds_train_one_run_each_and_summarise_them(synthetic_dir, tmp_path, capsys):
    out = tmp_path / "group"
    argv = ["train", "ann-3", "--epochs", "2", "--train-limit", "200", "--device", "cpu", "--quiet",
            "--data-dir", str(synthetic_dir), "--out", str(out), "--seeds", "0", "1"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "seeds.json").read_text())
    accuracies = [json.loads((out / f"seed-{s}" / "metrics.json").read_text())["test_accuracy"] for s in (0, 1)]
    assert summary["seeds"] == [0, 1] and summary["n"] == 2 and summary["runs"] == ["seed-0", "seed-1"]
    stats = summary["metrics"]["test_accuracy"]
    assert stats["values"] == accuracies and stats["mean"] == pytest.approx(sum(accuracies) / 2)
    assert stats["sd"] == pytest.approx(statistics.stdev(accuracies))
    assert f"{stats['mean']:.4f} ± {stats['sd']:.4f}" in printed and "test_accuracy" in printed
    assert set(summary["per_class_accuracy"]) >= {"Shirt", "Trouser"}
    assert [row["epoch"] for row in summary["history"]] == [1, 2] and "val_accuracy_sd" in summary["history"][0]
    configs = [load_config(str(out / f"seed-{s}" / "config.toml")) for s in (0, 1)]
    assert [c.seed for c in configs] == [0, 1]

    # Started again: finished seeds are skipped, a new seed is added; other settings are refused.
    assert main([*argv, "2"]) == 0
    assert "finished earlier, skipped" in capsys.readouterr().out
    assert json.loads((out / "seeds.json").read_text())["n"] == 3
    assert main([*argv[:-3], "--lr", "0.5", "--seeds", "0"]) == 2
    assert "other settings" in capsys.readouterr().err


def test_a_seed_group_validated_every_other_epoch_summarises_and_reports(synthetic_dir, tmp_path):
    config = load_config("ann-3", {"epochs": 3, "train_limit": 200, "device": "cpu", "validation_freq": 2})
    out = tmp_path / "group"
    summary = train_seeds(config, [0, 1], out, data_dir=synthetic_dir, progress=False, log=lambda s: None).summary
    means = [row["val_loss_mean"] for row in summary["history"]]
    assert means[0] is None and None not in means[1:] and summary["history"][0]["train_loss_sd"] is not None
    assert summary["metrics"]["best_val_accuracy"]["n"] == 2
    # The report's group curves leave epoch 1 out of the validation mean.
    from fashionlab.figures import _mean_sd
    from fashionlab.runs import RunDir

    histories = [RunDir(out / f"seed-{s}").read_history() for s in (0, 1)]
    epochs, mean, sd = _mean_sd(histories, "val_loss")
    assert epochs == [2, 3] and mean.tolist() == pytest.approx([row["val_loss_mean"] for row in summary["history"][1:]])
    assert main(["report", str(out / "seed-0"), str(out / "seed-1"), "--out", str(tmp_path / "report.html")]) == 0
    html = (tmp_path / "report.html").read_text()
    assert "A seed group is drawn as its mean" in html
    # Its best validation figures are a best of 2 epochs out of 3: marked, with the note that says so.
    assert "†" in html and "best over the validated epochs only" in html
    assert main(["report", str(out / "seed-0"), "--out", str(tmp_path / "one.html")]) == 0
    assert "best val accuracy, of 2 validated epochs" in (tmp_path / "one.html").read_text()
    from fashionlab.report.runs_table import comparison_rows, markdown_table
    from fashionlab.runs import load_run

    md = markdown_table(comparison_rows([load_run(out / f"seed-{s}") for s in (0, 1)]))
    assert md.count("†") == 3, md  # best val acc and best val loss cells, and the note


def test_an_interrupted_seed_resumes_and_gives_the_uninterrupted_numbers(synthetic_dir, tmp_path, monkeypatch):
    from fashionlab import training

    config = load_config("ann-3", {"epochs": 1, "train_limit": 200, "device": "cpu"})
    kwargs = dict(data_dir=synthetic_dir, progress=False, log=lambda s: None)
    straight = train_seeds(config, [0, 1], tmp_path / "straight", **kwargs).summary
    original = training.train

    def stop_in_seed_1(config, out, **kw):
        if config.seed == 1 and not kw.get("resume"):
            kw["should_stop"] = lambda epoch, step: (epoch, step) == (1, 2)
        return original(config, out, **kw)

    with monkeypatch.context() as patch:
        patch.setattr(training, "train", stop_in_seed_1)
        with pytest.raises(Interrupted):
            train_seeds(config, [0, 1], tmp_path / "resumed", **kwargs)
    resumed = train_seeds(config, [0, 1], tmp_path / "resumed", **kwargs)
    assert resumed.skipped == [0] and resumed.trained == [1]
    assert resumed.summary["metrics"]["test_loss"]["values"] == straight["metrics"]["test_loss"]["values"]


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "0", "0"], "a seed is given twice"),
    (["--seeds", "-1"], "seed must be >= 0"),
    (["--seed", "1", "--seeds", "0", "1"], "--seed and --seeds both given"),
])
def test_bad_seeds_are_one_line_errors(tmp_path, capsys, argv, message):
    from conftest import one_line_exit_2

    err = one_line_exit_2(["train", "ann-3", "--out", str(tmp_path / "never"), *argv], capsys)
    assert message in err and not (tmp_path / "never").exists()


def test_a_folder_where_seeds_json_belongs_is_refused_before_any_seed_trains(synthetic_dir, tmp_path, capsys):
    out = tmp_path / "group"
    (out / "seeds.json").mkdir(parents=True)
    argv = ["train", "ann-3", "--epochs", "1", "--train-limit", "200", "--device", "cpu", "--quiet",
            "--data-dir", str(synthetic_dir), "--out", str(out), "--seeds", "0"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "seeds.json is a directory" in err and "--out" in err and len(err.strip().splitlines()) == 1
    assert not (out / "seed-0").exists()  # nothing trained, nothing to lose
