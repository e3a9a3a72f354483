"""`--tensorboard DIR`: per-epoch scalars, the model graph and the test results as TensorBoard event files."""

import importlib.util
import os
import sys
import types

import pytest

from fashionlab.cli import main
from fashionlab.experiment import load_config
from fashionlab.training import train

pytestmark = pytest.mark.filterwarnings("ignore:.*unknown.*:UserWarning")


def _need_tensorboard():
    if importlib.util.find_spec("tensorboard") is None:
        if os.environ.get("CI"):
            pytest.fail("tensorboard is not installed; the dev extra installs it (pip install -e '.[dev]')")
        pytest.skip("tensorboard is not installed: pip install 'fashionlab[tensorboard]'")


def _events(folder):
    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events


def test_train_writes_scalars_graph_and_test_results(synthetic_dir, tmp_path, capsys):
    _need_tensorboard()
    board = tmp_path / "tb"
    assert main(["train", "cnn-1", "--epochs", "3", "--train-limit", "200", "--device", "cpu", "--quiet",
                 "--set", "validation_freq=2",  # epoch 1 is not validated: no validation scalar for it
                 "--data-dir", str(synthetic_dir), "--out", str(tmp_path / "run"), "--tensorboard", str(board)]) == 0
    assert list((board / "run").glob("events.out.tfevents.*"))
    events = _events(board / "run")
    history = [line.split(",") for line in (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]]
    validation = events.Scalars("accuracy/validation")
    assert [e.step for e in validation] == [2, 3] and [e.step for e in events.Scalars("loss/train")] == [1, 2, 3]
    assert [round(e.value, 5) for e in validation] == [round(float(row[4]), 5) for row in history[1:]]
    assert {"loss/train", "loss/validation", "accuracy/train", "learning_rate", "test/accuracy"} <= set(events.Tags()["scalars"])
    assert events.Tags()["graph"] and events.Tags()["images"] == ["test/confusion_matrix"]
    assert "tensorflow" not in sys.modules  # TensorBoard's stub, not TensorFlow, beside PyTorch


def test_logging_changes_no_number(synthetic_dir, tmp_path):
    _need_tensorboard()
    kwargs = dict(data_dir=synthetic_dir, progress=False, log=lambda s: None)
    plain = train(load_config("cnn-2", {"epochs": 1, "train_limit": 200, "device": "cpu"}), tmp_path / "a", **kwargs)
    logged = train(load_config("cnn-2", {"epochs": 1, "train_limit": 200, "device": "cpu",
                                         "tensorboard": str(tmp_path / "tb")}), tmp_path / "b", **kwargs)
    assert plain.metrics["test_loss"] == logged.metrics["test_loss"]
    assert [r["val_loss"] for r in plain.history] == [r["val_loss"] for r in logged.history]


def test_without_the_extra_it_is_refused_before_any_work(synthetic_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if tensorboard were not installed
    from conftest import one_line_exit_2

    err = one_line_exit_2(["train", "ann-3", "--data-dir", str(synthetic_dir), "--out", str(tmp_path / "run"),
                           "--tensorboard", str(tmp_path / "tb")], capsys)
    assert "pip install 'fashionlab[tensorboard]'" in err and not (tmp_path / "run").exists()
