"""`fashionlab runs`: every run under a folder in one table, filtered and sorted, from small files only."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fashionlab.cli import main

from conftest import one_line_exit_2

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results" / "paper-full-length"


def _fake_runs(root: Path, count: int) -> None:
    """`count` finished runs made from the committed full-length results (config, environment, metrics)."""
    sources = sorted(p for p in RESULTS.iterdir() if (p / "metrics.json").is_file())
    for i in range(count):
        source = sources[i % len(sources)]
        run = root / f"group-{i // 50}" / f"{source.name}-{i:03d}"
        run.mkdir(parents=True)
        for name in ("config.toml", "environment.json", "history.csv"):
            shutil.copy(source / name, run / name)
        metrics = json.loads((source / "metrics.json").read_text())
        metrics["test_accuracy"] = round(0.5 + i / 1000, 4)
        (run / "metrics.json").write_text(json.dumps(metrics))


def test_lists_runs_with_their_setting_and_results(capsys):
    assert main(["runs", str(RESULTS)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "model", "release", "precision", "epochs", "train", "images", "test", "acc",
                                "time", "date"]
    cnn1 = next(line for line in lines if line.startswith("cnn-1 "))
    # Recorded before metrics held train_count: 48,000 follows from validation_split 0.2 of 60,000.
    assert cnn1.split()[1:7] == ["cnn-1", "fashion-mnist-2017-08-26", "bf16", "50", "48,000", "0.9484"]
    assert lines[-1] == f"6 runs under {RESULTS}"


def test_filter_sort_and_json_on_hundreds_of_runs(tmp_path, capsys):
    _fake_runs(tmp_path, 300)
    assert main(["runs", str(tmp_path), "--filter", "model=CNN-*", "--filter", "test_acc>=0.7",
                 "--sort", "test_acc", "--desc", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    accuracies = [r["test_accuracy"] for r in rows]
    assert rows and all(r["model"].startswith("cnn-") for r in rows) and min(accuracies) >= 0.7
    assert accuracies == sorted(accuracies, reverse=True)
    assert len(rows) == sum(1 for i in range(300) if i % 6 >= 3 and round(0.5 + i / 1000, 4) >= 0.7)
    assert main(["runs", str(tmp_path), "--filter", "model!=ann-*", "--filter", "name=group-0/*"]) == 0
    cnns_in_group_0 = sum(1 for i in range(50) if i % 6 >= 3)
    assert capsys.readouterr().out.splitlines()[-1] == f"{cnns_in_group_0} runs under {tmp_path}"


def test_unfinished_and_damaged_runs_are_listed_not_fatal(tmp_path, capsys):
    _fake_runs(tmp_path, 2)
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.toml").write_text('name = "cnn-2"\nmodel = "cnn-2"\n')
    (unfinished / "checkpoint.pt").write_bytes(b"")
    damaged = next(tmp_path.glob("group-0/*"))
    (damaged / "environment.json").write_text("{not json")
    assert main(["runs", str(tmp_path), "--filter", "status=unfinished", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["unfinished"] and rows[0]["test_accuracy"] is None
    assert main(["runs", str(tmp_path)]) == 0
    assert "3 runs under" in capsys.readouterr().out


@pytest.mark.parametrize("file, damage, expect", [
    ("metrics.json", {"test_accuracy": "high"}, {"test_accuracy": None, "status": "unfinished"}),
    ("metrics.json", {"train_count": "y", "train_seconds": "slow", "kind": 5, "epochs_run": [1]},
     {"train_seconds": None, "kind": "network", "train_count": 48_000, "epochs": 50}),
    ("environment.json", {"dataset": "x", "precision": ["bf16"], "started": 7},
     {"precision": "fp32", "started": "", "release": "fashion-mnist-2017-08-26"}),
])
def test_values_of_the_wrong_type_leave_fields_blank(tmp_path, capsys, file, damage, expect):
    _fake_runs(tmp_path, 6)
    damaged = next(tmp_path.glob("group-0/cnn-1-*"))
    values = json.loads((damaged / file).read_text())
    values.pop("train_count", None)  # as in runs recorded before metrics held it
    (damaged / file).write_text(json.dumps({**values, **damage}))
    for sort in ("test_acc", "kind", "train_images", "time", "date", "precision", "epochs"):
        assert main(["runs", str(tmp_path), "--sort", sort]) == 0
        assert "6 runs under" in capsys.readouterr().out
    assert main(["runs", str(tmp_path), "--json"]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if r["path"] == str(damaged))
    assert {key: row[key] for key in expect} == expect


def test_a_config_value_of_the_wrong_type_leaves_the_image_count_blank(tmp_path, capsys):
    _fake_runs(tmp_path, 1)
    run = next(tmp_path.glob("group-0/*"))
    metrics = json.loads((run / "metrics.json").read_text())
    metrics.pop("train_count", None)
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "config.toml").write_text((run / "config.toml").read_text().replace("validation_split = ", 'validation_split = "x" #'))
    assert main(["runs", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["train_count"] is None


@pytest.mark.parametrize("argv, message", [
    (["--sort", "acuracy"], "unknown key 'acuracy'"),
    (["--filter", "model"], "give KEY=VALUE"),
    (["--filter", "test_acc>high"], "needs a number"),
    (["--filter", "modle=cnn-2"], "Did you mean 'model'"),
])
def test_bad_sort_and_filter_are_one_line_errors(argv, message, capsys):
    assert message in one_line_exit_2(["runs", str(RESULTS.parent), *argv], capsys)


def test_number_filters_compare_a_damaged_files_huge_count_without_overflow(tmp_path, capsys):
    _fake_runs(tmp_path, 2)
    damaged = next(tmp_path.glob("*/*-001")) / "metrics.json"
    metrics = json.loads(damaged.read_text())
    metrics["train_count"] = int("9" * 400)  # parsed as an int; float() of it overflows
    damaged.write_text(json.dumps(metrics))
    assert main(["runs", str(tmp_path), "--filter", "train_images>1e300", "--json"]) == 0
    assert [row["name"] for row in json.loads(capsys.readouterr().out)] == [f"group-0/{damaged.parent.name}"]
    assert main(["runs", str(tmp_path), "--filter", "train_images<=48000", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_missing_folder_is_a_one_line_error(tmp_path, capsys):
    assert "no such folder" in one_line_exit_2(["runs", str(tmp_path / "nowhere")], capsys)
    (tmp_path / "metrics.json").write_text("{}")
    assert "a file, not a folder" in one_line_exit_2(["runs", str(tmp_path / "metrics.json")], capsys)


def test_runs_reads_small_files_only_and_never_loads_torch(tmp_path):
    _fake_runs(tmp_path, 30)
    code = f"import sys\nfrom fashionlab.cli import main\nmain(['runs', {str(tmp_path)!r}])\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False" and "30 runs under" in out
