"""The Python API (`fashionlab.train`, `load_run`, `evaluate`), and the README's notebook example run as written."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import fashionlab
from fashionlab.errors import UserError
from fashionlab.data import validation_split

pytestmark = pytest.mark.filterwarnings("ignore:.*unknown.*:UserWarning")
README = Path(__file__).resolve().parent.parent / "README.md"


def readme_example() -> str:
    """The Python block that follows the README's `<!-- tested by tests/test_api.py -->` marker."""
    match = re.search(r"<!-- tested by tests/test_api.py -->\s*```python\n(.*?)```", README.read_text(), re.S)
    assert match, "the README lost its tested Python example"
    return match.group(1)


def test_readme_notebook_example_runs_on_the_real_data(real_data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # its runs/ folder goes here
    exec(compile(readme_example(), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "Dataset('fashion-mnist-2017-08-26', train 60,000 and test 10,000 images" in out
    run = fashionlab.load_run(tmp_path / "runs" / "notebook")
    assert run.metrics["test_count"] == 10_000 and run.metrics["test_accuracy"] > 0.7  # chance is 0.1
    assert run.metrics["train_count"] == validation_split(10_000, 0.33)  # train_limit, less ann-3's split


def test_train_load_predict_and_evaluate(synthetic_dir, tmp_path):
    run = fashionlab.train("ann-3", tmp_path / "run", data_dir=synthetic_dir, epochs=2, train_limit=200,
                           device="cpu", progress=False, log=lambda s: None)
    assert isinstance(run, fashionlab.Run) and len(run.history) == 2 and run.history[1]["epoch"] == 2
    assert set(run.history[0]) >= {"train_loss", "val_accuracy", "lr", "seconds"}
    assert run.config["epochs"] == 2 and run.environment["device"] == "cpu"
    assert "test accuracy" in repr(run) and str(run.path) in repr(run)

    again = fashionlab.load_run(tmp_path / "run", device="cpu")
    dataset = fashionlab.load_dataset(data_dir=synthetic_dir)
    probabilities = again.probabilities(dataset.test_images[:8])
    assert probabilities.shape == (8, 10) and np.allclose(probabilities.sum(1), 1, atol=1e-5)
    predicted = again.predict(dataset.test_images[:8])
    assert predicted == [again.classes[i] for i in probabilities.argmax(1)]
    # predictions.csv, written at training, holds the same answers for the same images
    saved = np.loadtxt(tmp_path / "run" / "predictions.csv", delimiter=",", skiprows=1)[:8, 2].astype(int)
    assert [again.classes[i] for i in saved] == predicted
    path = tmp_path / "item.png"
    Image.fromarray(np.asarray(dataset.test_images[0])).save(path)
    assert again.predict([path]) == again.predict(str(path)) and len(again.predict(path)) == 1
    with pytest.raises(UserError, match=r"uint8 arrays of shape \(N, 28, 28\)"):
        again.predict(np.zeros((2, 32, 32)))

    metrics = fashionlab.evaluate(again, data_dir=synthetic_dir, device="cpu")
    assert metrics["agrees_with_saved"] is True and metrics["test_accuracy"] == run.metrics["test_accuracy"]
    held_out = fashionlab.evaluate(again, data_dir=synthetic_dir, device="cpu", split="validation")
    assert held_out["agrees_with_saved"] is True and held_out["validation_count"] == 66  # 33% of 200
    assert held_out["validation_accuracy"] == pytest.approx(run.history[-1]["val_accuracy"], abs=1e-6)
    flipped = fashionlab.evaluate(again, data_dir=synthetic_dir, device="cpu", split="validation", tta_flip=True)
    assert flipped["agrees_with_saved"] is None  # an override: nothing to agree with
    (tmp_path / "run" / "metrics.json").unlink()
    assert fashionlab.evaluate(again, data_dir=synthetic_dir, device="cpu")["agrees_with_saved"] is None


def test_train_with_seeds_returns_the_summary(synthetic_dir, tmp_path):
    summary = fashionlab.train("ann-3", tmp_path / "group", seeds=[3, 4], data_dir=synthetic_dir, epochs=1,
                               train_limit=200, device="cpu", progress=False, log=lambda s: None)
    assert summary["seeds"] == [3, 4] and summary["metrics"]["test_accuracy"]["n"] == 2


def test_import_is_fast_and_loads_no_torch():
    code = "import sys, fashionlab\nprint('torch' in sys.modules, fashionlab.train.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "fashionlab.api"]


def test_dataset_repr_is_short_and_arrays_are_read_only(synthetic_dir):
    first = fashionlab.load_dataset(data_dir=synthetic_dir)  # may decode the files
    cached = fashionlab.load_dataset(data_dir=synthetic_dir)  # memory-maps the array cache
    assert len(repr(cached)) < 200 and "train 300 and test 100 images" in repr(cached) and "[" not in repr(cached)
    assert isinstance(cached.train_images, np.memmap)
    for dataset in (first, cached):
        with pytest.raises(ValueError, match="read-only"):
            dataset.train_images[0, 0, 0] = 1
    writable = np.array(cached.train_images)  # the README's advice: a private, writable copy
    writable[0, 0, 0] = 1
    assert writable.flags.writeable and writable.shape == (300, 28, 28)
