import csv
import json

import numpy as np
import pytest
import torch

from fashionlab.cli import main
from fashionlab.errors import UserError
from fashionlab.data.augment import augment_batch
from fashionlab.evaluation import evaluate_run
from fashionlab.experiment import load_config
from fashionlab.models.init import whiten_first_conv_
from fashionlab.training import Interrupted, prepare_split, train

pytestmark = pytest.mark.filterwarnings("ignore:.*unknown.*:UserWarning")  # synthetic data is an unknown release

RUN_FILES = [
    "config.toml", "environment.json", "history.csv", "metrics.json", "predictions.csv",
    "weights.pt", "best.pt", "checkpoint.pt", "summary.txt", "learning_curves.png", "confusion_matrix.png",
]


def quick(name, **overrides):
    return load_config(name, {"epochs": 1, "train_limit": 200, "device": "cpu", **overrides})


def test_validation_split_is_the_last_fraction():
    images = np.arange(10, dtype=np.uint8)[:, None, None].repeat(28, 1).repeat(28, 2)
    labels = np.arange(10, dtype=np.uint8)
    split = prepare_split(images, labels, load_config("cnn-2", {"validation_split": 0.2}), torch.device("cpu"))
    assert split.train_y.tolist() == list(range(8))
    assert split.val_y.tolist() == [8, 9]
    assert split.val_x[:, 0, 0, 0].mul(255).round().tolist() == [8, 9]
    # Keras: split_at = int(n * (1 - v)); with train_limit the split is taken from the first N images.
    split = prepare_split(images, labels, load_config("ann-1", {"train_limit": 6}), torch.device("cpu"))
    assert split.train_y.tolist() == [0, 1, 2, 3] and split.val_y.tolist() == [4, 5]


def test_augmentation_is_batched_seeded_and_keeps_shape():
    x = torch.rand(64, 1, 28, 28)
    a = augment_batch(x, torch.Generator().manual_seed(1), flip=True, zoom=0.1)
    b = augment_batch(x, torch.Generator().manual_seed(1), flip=True, zoom=0.1)
    assert a.shape == x.shape and torch.equal(a, b)
    assert not torch.equal(a, x)
    flipped = augment_batch(x, torch.Generator().manual_seed(1), flip=True, zoom=0.0)
    same = (flipped == x).flatten(1).all(1)
    mirrored = (flipped == x.flip(-1)).flatten(1).all(1)
    assert (same | mirrored).all() and 10 < mirrored.sum() < 54  # about half flipped, nothing else changed
    assert torch.equal(augment_batch(x, torch.Generator(), flip=False, zoom=0.0), x)


@pytest.mark.parametrize("preset", ["ann-1", "ann-2", "ann-3", "cnn-1", "cnn-2", "cnn-3", "fast", "best", "max"])
def test_every_preset_trains_one_epoch_and_writes_a_complete_run(preset, synthetic_dir, tmp_path):
    result = train(quick(preset), tmp_path / preset, data_dir=synthetic_dir, progress=False, log=lambda s: None)
    for name in RUN_FILES:
        assert (result.run_dir / name).is_file(), name
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["test_count"] == 100 and 0 <= metrics["test_accuracy"] <= 1
    assert set(metrics["per_class"]["Trouser"]) == {"precision", "recall", "f1", "accuracy", "support"}
    assert np.asarray(metrics["confusion_matrix"]).sum() == 100
    with open(result.run_dir / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
    assert len(rows) == 1
    env = json.loads((result.run_dir / "environment.json").read_text())
    assert env["seed"] == 0 and env["threads"] >= 1 and env["device"] == "cpu"
    from fashionlab.device import cpu_has_native_bf16

    assert env["precision"] == ("bf16" if cpu_has_native_bf16() else "fp32")  # precision "auto"
    assert env["dataset"]["release"] == "unknown" and len(env["dataset"]["checksums"]) == 4
    with open(result.run_dir / "predictions.csv") as fh:
        header = next(csv.reader(fh))
    assert header[:3] == ["index", "label", "predicted"] and header[3:] == metrics["classes"]
    state = torch.load(result.run_dir / "weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_training_learns_the_synthetic_task(synthetic_dir, tmp_path):
    config = load_config("cnn-1", {"epochs": 3, "device": "cpu"})
    result = train(config, tmp_path / "run", data_dir=synthetic_dir, progress=False, log=lambda s: None)
    assert result.metrics["test_accuracy"] > 0.5  # chance is 0.1


def _history_without_time(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


@pytest.mark.parametrize("stop_at", [(1, 3), (2, 7), (2, 8)])  # mid-epoch, and at the last batch of an epoch
def test_resume_reproduces_the_uninterrupted_run(synthetic_dir, tmp_path, stop_at):
    config = load_config("cnn-1", {"epochs": 3, "batch_size": 32, "device": "cpu"})  # 240 train images: 8 batches
    kwargs = dict(data_dir=synthetic_dir, progress=False, log=lambda s: None)
    straight = train(config, tmp_path / "straight", **kwargs)

    with pytest.raises(Interrupted) as stopped:
        train(config, tmp_path / "resumed", should_stop=lambda e, s: (e, s) == stop_at, **kwargs)
    assert (stopped.value.epoch, stopped.value.step) == stop_at
    assert not (tmp_path / "resumed" / "metrics.json").exists()
    with pytest.raises(Exception, match="--resume"):
        train(config, tmp_path / "resumed", **kwargs)
    resumed = train(config, tmp_path / "resumed", resume=True, **kwargs)

    assert _history_without_time(resumed.history) == _history_without_time(straight.history)
    assert resumed.metrics["test_loss"] == straight.metrics["test_loss"]
    a = torch.load(tmp_path / "straight" / "weights.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "weights.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_validation_freq_skips_validations_and_leaves_the_weights_alone(synthetic_dir, tmp_path):
    from fashionlab.runs import RunDir

    kwargs = dict(data_dir=synthetic_dir, progress=False, log=lambda s: None)
    base = {"epochs": 5, "batch_size": 32, "device": "cpu", "evaluate_weights": "best"}  # cnn-1 draws dropout masks
    every = train(load_config("cnn-1", base), tmp_path / "every", **kwargs)
    lines = []
    sparse = train(load_config("cnn-1", {**base, "validation_freq": 2}), tmp_path / "sparse",
                   **{**kwargs, "log": lines.append})
    # Epochs 2 and 4, and the last (5), are validated; the others are not, and say so.
    assert [r["epoch"] for r in sparse.history if r["val_loss"] is not None] == [2, 4, 5]
    assert sum("not validated" in line for line in lines) == 2
    for a, b in zip(_history_without_time(every.history), _history_without_time(sparse.history)):
        skipped = {"val_loss": None, "val_accuracy": None} if b["val_loss"] is None else {}
        assert b == {**a, **skipped}
    # The same weights are trained; the best epoch is chosen among the validated ones.
    final_every = torch.load(tmp_path / "every" / "checkpoint.pt", weights_only=False)["model"]
    final_sparse = torch.load(tmp_path / "sparse" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(final_every[k], final_sparse[k]) for k in final_every)
    validated = [r for r in every.history if r["epoch"] in (2, 4, 5)]
    best = min(validated, key=lambda r: r["val_loss"])
    assert sparse.metrics["best_epoch"] == best["epoch"] and sparse.metrics["best_val_loss"] == best["val_loss"]
    assert sparse.metrics["best_val_accuracy"] == max(r["val_accuracy"] for r in validated)
    assert sparse.metrics["final_val_loss"] == every.metrics["final_val_loss"]
    # history.csv leaves the cells empty, and reads them back as None; the validation check still agrees.
    with open(tmp_path / "sparse" / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert (rows[0]["val_loss"], rows[0]["val_accuracy"]) == ("", "") and rows[1]["val_loss"] != ""
    assert RunDir(tmp_path / "sparse").read_history()[0]["val_accuracy"] is None
    assert (tmp_path / "sparse" / "learning_curves.png").is_file()
    assert evaluate_run(tmp_path / "sparse", synthetic_dir, "cpu", split="validation")[1] == []

    # Interrupted in epoch 4 (epoch 3 unvalidated): it cannot be cut to 3 epochs, which would end on no
    # validation. validation_freq is a run setting: the rest may validate every 3rd epoch, same weights.
    sparse_config = load_config("cnn-1", {**base, "validation_freq": 2})
    with pytest.raises(Interrupted):
        train(sparse_config, tmp_path / "resumed", should_stop=lambda e, s: (e, s) == (4, 2), **kwargs)
    for epochs in (2, 3):
        with pytest.raises(UserError, match=f"--epochs {epochs}: .* has trained 3 epochs already"):
            train(load_config("cnn-1", {**base, "validation_freq": 2, "epochs": epochs}), tmp_path / "resumed",
                  resume=True, **kwargs)
    resumed = train(load_config("cnn-1", {**base, "validation_freq": 3}), tmp_path / "resumed", resume=True, **kwargs)
    assert [r["epoch"] for r in resumed.history if r["val_loss"] is not None] == [2, 5]
    final_resumed = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(final_every[k], final_resumed[k]) for k in final_every)


def test_validation_freq_with_early_stopping_is_refused(capsys):
    with pytest.raises(UserError, match="early_stopping_patience.*validation_freq = 1"):
        load_config("cnn-1", {"validation_freq": 3, "early_stopping_patience": 2})
    assert main(["train", "cnn-1", "--set", "validation_freq=0"]) == 2
    assert "validation_freq" in capsys.readouterr().err


def test_same_seed_same_numbers_other_seed_other_numbers(synthetic_dir, tmp_path):
    kwargs = dict(data_dir=synthetic_dir, progress=False, log=lambda s: None)
    one = train(quick("cnn-2"), tmp_path / "a", **kwargs).history
    two = train(quick("cnn-2"), tmp_path / "b", **kwargs).history
    three = train(quick("cnn-2", seed=1), tmp_path / "c", **kwargs).history
    assert _history_without_time(one) == _history_without_time(two)
    assert _history_without_time(one) != _history_without_time(three)


def test_deterministic_mode_holds_for_its_run_only_and_leaves_cpu_numbers_alone(synthetic_dir, tmp_path):
    import os

    import torch._inductor.config as inductor

    kwargs = dict(data_dir=synthetic_dir, progress=False, log=lambda s: None)
    seen, lines = [], []

    def mode(row):
        seen.append((torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
                     getattr(inductor, "deterministic", True), os.environ.get("CUBLAS_WORKSPACE_CONFIG")))

    mode(None)
    off = seen.pop()  # as the process starts
    plain = train(quick("cnn-2"), tmp_path / "a", **kwargs).history
    exact = train(quick("cnn-2", deterministic=True), tmp_path / "b", on_epoch=mode,
                  **{**kwargs, "log": lines.append}).history
    on = (True, True, True, off[3] or ":4096:8")
    assert seen == [on] and any("deterministic kernels" in line for line in lines)
    mode(None)
    assert seen.pop() == off  # all of it restored once the run is over
    assert _history_without_time(exact) == _history_without_time(plain)  # the CPU's kernels were reproducible already
    with pytest.raises(Interrupted):  # restored when a run stops too
        train(quick("cnn-2", deterministic=True, epochs=2), tmp_path / "c", should_stop=lambda e, s: e == 2, **kwargs)
    mode(None)
    assert seen == [on, off]
    seen.clear()
    train(quick("cnn-2", deterministic=True, epochs=2), tmp_path / "c", resume=True, on_epoch=mode, **kwargs)
    assert seen == [on]  # the resumed epoch 2 runs in the mode too
    # Inside a caller's own deterministic mode, a run without the key leaves that mode as it was.
    torch.use_deterministic_algorithms(True)
    try:
        train(quick("cnn-2"), tmp_path / "d", **kwargs)
        assert torch.are_deterministic_algorithms_enabled() and not torch.is_deterministic_algorithms_warn_only_enabled()
        train(quick("cnn-2", deterministic=True), tmp_path / "e", on_epoch=mode, **kwargs)
        assert seen[-1][:2] == (True, False)  # the caller's errors stay errors inside the run, not warnings
        assert torch.are_deterministic_algorithms_enabled() and not torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


def test_evaluate_agrees_with_training(synthetic_dir, tmp_path, capsys):
    result = train(quick("cnn-3", epochs=2), tmp_path / "run", data_dir=synthetic_dir, progress=False, log=lambda s: None)
    metrics, disagreements = evaluate_run(result.run_dir, data_dir=synthetic_dir)
    assert disagreements == []
    assert metrics["confusion_matrix"] == result.metrics["confusion_matrix"]
    assert abs(metrics["test_loss"] - result.metrics["test_loss"]) < 1e-6
    assert main(["evaluate", str(result.run_dir), "--data-dir", str(synthetic_dir)]) == 0
    captured = capsys.readouterr()
    assert "agrees" in captured.err and "Trouser" in captured.out

    # Tampered metrics are caught: the comparison can fail.
    saved = json.loads((result.run_dir / "metrics.json").read_text())
    saved["test_accuracy"] += 0.01
    (result.run_dir / "metrics.json").write_text(json.dumps(saved))
    assert main(["evaluate", str(result.run_dir), "--data-dir", str(synthetic_dir)]) == 1


def test_evaluate_on_the_validation_split_agrees_with_history(synthetic_dir, tmp_path, capsys):
    from conftest import one_line_exit_2

    result = train(quick("cnn-3", epochs=2), tmp_path / "run", data_dir=synthetic_dir, progress=False, log=lambda s: None)
    run, data = str(result.run_dir), ["--data-dir", str(synthetic_dir)]
    metrics, disagreements = evaluate_run(run, data_dir=synthetic_dir, split="validation")
    assert disagreements == []
    assert metrics["validation_count"] == result.metrics["validation_count"] == 40  # 20% of train_limit 200
    assert metrics["validation_accuracy"] == pytest.approx(result.history[-1]["val_accuracy"], abs=1e-6)
    assert metrics["validation_loss"] == pytest.approx(result.history[-1]["val_loss"], abs=1e-6)
    assert not any(key.startswith("test_") for key in metrics)
    assert main(["evaluate", run, "--split", "validation", *data]) == 0
    captured = capsys.readouterr()
    assert "validation accuracy" in captured.out and "(40 images)" in captured.out
    assert "agrees with the run's history.csv" in captured.err

    # A shifted view is another prediction: the numbers move, and are not compared with the run's.
    shifted, not_compared = evaluate_run(run, data_dir=synthetic_dir, split="validation", tta_shift=2)
    assert not_compared is None and shifted["validation_loss"] != metrics["validation_loss"]
    assert main(["evaluate", run, "--split", "validation", "--tta-shift", "2", *data]) == 0
    assert ("not compared with the run's history.csv: test-time augmentation set by --tta-shift 2, not the run's own"
            in capsys.readouterr().err)
    assert main(["evaluate", run, "--split", "validation", "--tta-shift", "0", *data]) == 0  # the run's own: compared
    assert "agrees with the run's history.csv" in capsys.readouterr().err
    assert "--tta-shift 5: give 0 to 4 pixels" in one_line_exit_2(["evaluate", run, "--tta-shift", "5", *data], capsys)

    # A tampered history is caught: the comparison can fail.
    history = (result.run_dir / "history.csv").read_text().splitlines()
    last = history[-1].split(",")
    last[4] = str(float(last[4]) + 0.05)  # val_accuracy
    (result.run_dir / "history.csv").write_text("\n".join(history[:-1] + [",".join(last)]) + "\n")
    assert main(["evaluate", run, "--split", "validation", *data]) == 1
    assert "DISAGREES with history.csv: validation_accuracy" in capsys.readouterr().err


def test_test_time_augmentation_changes_scores_only_never_the_training(synthetic_dir, tmp_path):
    """So a run's saved weights, scored with another TTA (`evaluate --tta-shift`), give what training
    with that TTA in its config gives: validation passes neither draw random numbers nor move BatchNorm."""
    kwargs = dict(data_dir=synthetic_dir, progress=False, log=lambda s: None)
    plain = train(quick("cnn-2", epochs=2, shift=1), tmp_path / "plain", **kwargs)
    shifted = train(quick("cnn-2", epochs=2, shift=1, tta_shift=1), tmp_path / "shifted", **kwargs)
    assert [row["train_loss"] for row in plain.history] == [row["train_loss"] for row in shifted.history]
    assert [row["val_loss"] for row in plain.history] != [row["val_loss"] for row in shifted.history]
    a = torch.load(tmp_path / "plain" / "weights.pt", weights_only=True)
    b = torch.load(tmp_path / "shifted" / "weights.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    rescored, _ = evaluate_run(tmp_path / "plain", data_dir=synthetic_dir, tta_shift=1)
    assert rescored["test_loss"] == shifted.metrics["test_loss"]
    assert rescored["confusion_matrix"] == shifted.metrics["confusion_matrix"]


def test_evaluate_on_the_validation_split_of_an_ema_run_and_of_an_interrupted_extension(synthetic_dir, tmp_path, capsys):
    kwargs = dict(data_dir=synthetic_dir, progress=False, log=lambda s: None)
    config = quick("cnn-2", epochs=2, ema=0.9)
    train(config, tmp_path / "run", **kwargs)
    assert evaluate_run(tmp_path / "run", data_dir=synthetic_dir, split="validation")[1] == []  # the averaged weights
    # Extended by two epochs and stopped in the second: history.csv has a row past the saved weights' epoch.
    longer = quick("cnn-2", epochs=4, ema=0.9)
    with pytest.raises(Interrupted):
        train(longer, tmp_path / "run", resume=True, should_stop=lambda e, s: (e, s) == (4, 1), **kwargs)
    assert len((tmp_path / "run" / "history.csv").read_text().splitlines()) == 1 + 3
    _, disagreements = evaluate_run(tmp_path / "run", data_dir=synthetic_dir, split="validation")
    assert disagreements == []
    # Without metrics.json it cannot know which epoch's weights it scores: evaluated, not compared.
    (tmp_path / "run" / "metrics.json").unlink()
    assert main(["evaluate", str(tmp_path / "run"), "--split", "validation", "--data-dir", str(synthetic_dir)]) == 0
    assert "not compared with the run's history.csv" in capsys.readouterr().err


def test_evaluate_on_the_validation_split_compares_with_the_best_epoch_when_it_scores_those_weights(synthetic_dir, tmp_path):
    config = quick("cnn-2", epochs=3, evaluate_weights="best")
    result = train(config, tmp_path / "run", data_dir=synthetic_dir, progress=False, log=lambda s: None)
    best = result.metrics["best_epoch"]
    metrics, disagreements = evaluate_run(result.run_dir, data_dir=synthetic_dir, split="validation")
    assert disagreements == []
    assert metrics["validation_loss"] == pytest.approx(result.history[best - 1]["val_loss"], abs=1e-6)
    # The row compared is the one metrics.json names: pointed at another epoch, the same weights disagree.
    other = next(row["epoch"] for row in result.history if abs(row["val_loss"] - metrics["validation_loss"]) > 1e-6)
    saved = json.loads((result.run_dir / "metrics.json").read_text())
    (result.run_dir / "metrics.json").write_text(json.dumps({**saved, "best_epoch": other}))
    _, disagreements = evaluate_run(result.run_dir, data_dir=synthetic_dir, split="validation")
    assert any(text.startswith("validation_loss") and f"(epoch {other})" in text for text in disagreements)


def test_evaluate_refuses_another_test_set(synthetic_dir, tmp_path, capsys):
    from conftest import write_dataset

    result = train(quick("ann-3"), tmp_path / "run", data_dir=synthetic_dir, progress=False, log=lambda s: None)
    other = write_dataset(tmp_path / "other", seed=3)
    assert main(["evaluate", str(result.run_dir), "--data-dir", str(other)]) == 2
    assert "differs from the one this run was tested on" in capsys.readouterr().err


def test_train_cli_end_to_end(synthetic_dir, tmp_path, capsys):
    out = tmp_path / "cli-run"
    code = main(["train", "ann-2", "--epochs", "2", "--train-limit", "200", "--device", "cpu",
                 "--data-dir", str(synthetic_dir), "--out", str(out), "--quiet"])
    assert code == 0
    assert "test accuracy" in capsys.readouterr().out
    assert len((out / "history.csv").read_text().splitlines()) == 3
    # Finished run: asking again without --resume is a clear error; --resume with other settings too.
    assert main(["train", "ann-2", "--data-dir", str(synthetic_dir), "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train", "ann-2", "--train-limit", "200", "--seed", "3", "--data-dir", str(synthetic_dir),
                 "--out", str(out), "--resume"]) == 2
    assert "seed: 0 -> 3" in capsys.readouterr().err


def test_cuda_flag_without_cuda_is_a_clear_error(synthetic_dir, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["train", "ann-1", "--device", "cuda", "--data-dir", str(synthetic_dir), "--out", str(tmp_path / "r")]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_real_data_smoke(real_data, tmp_path):
    """The real copy trains through the same path; evaluation covers the full 10,000-image test set."""
    result = train(load_config("ann-3", {"epochs": 1, "train_limit": 1000, "device": "cpu"}), tmp_path / "real",
                   data_dir=real_data, progress=False, log=lambda s: None)
    assert result.metrics["test_count"] == 10_000
    assert result.metrics["release"] == "fashion-mnist-2017-08-26"
    assert result.metrics["test_accuracy"] > 0.5  # 670 training images, one epoch: far above chance (0.1)


def test_onecycle_schedule_warms_up_then_decays_to_zero():
    from fashionlab.training import learning_rate_at

    config = load_config("cnn-2", {"schedule": "onecycle", "lr": 0.4, "warmup": 0.25})
    lrs = [learning_rate_at(config, s, 100) for s in range(100)]
    assert lrs[0] == pytest.approx(0.4 / 25) and max(lrs) == pytest.approx(0.4) and lrs.index(max(lrs)) == 24
    assert all(a <= b for a, b in zip(lrs[:25], lrs[1:25])) and all(a >= b for a, b in zip(lrs[24:], lrs[25:]))
    assert lrs[-1] == pytest.approx(0.4 / 75)
    assert learning_rate_at(load_config("cnn-2"), 50, 100) == 0.01  # constant: Keras's behaviour


def test_recipe_options_train_and_resume_exactly(synthetic_dir, tmp_path):
    """Schedule, label smoothing, weight decay, momentum, bf16 and flip TTA go through the same engine."""
    config = load_config("cnn-1", {"epochs": 2, "device": "cpu", "schedule": "onecycle", "label_smoothing": 0.1,
                                   "optimizer": "sgd", "momentum": 0.9, "weight_decay": 5e-4, "lr": 0.05,
                                   "tta_flip": True, "precision": "bf16"})
    kwargs = dict(data_dir=synthetic_dir, progress=False, log=lambda s: None)
    straight = train(config, tmp_path / "a", **kwargs)
    assert straight.history[0]["lr"] < 0.05 and straight.metrics["test_count"] == 100
    with pytest.raises(Interrupted):
        train(config, tmp_path / "b", should_stop=lambda e, s: (e, s) == (1, 5), **kwargs)
    resumed = train(config, tmp_path / "b", resume=True, **kwargs)
    assert _history_without_time(resumed.history) == _history_without_time(straight.history)
    metrics, disagreements = evaluate_run(tmp_path / "a", data_dir=synthetic_dir)
    assert disagreements == []
    plain, not_compared = evaluate_run(tmp_path / "a", data_dir=synthetic_dir, tta_flip=False)
    assert not_compared is None and plain["test_loss"] != metrics["test_loss"]


def test_flip_tta_averages_the_mirror():
    from fashionlab.evaluation import predict_logits

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    x = torch.rand(5, 1, 28, 28)
    both = predict_logits(model, x, tta_flip=True)
    with torch.no_grad():
        expected = (model(x) + model(x.flip(-1))) / 2
    torch.testing.assert_close(both, expected)
    assert not torch.allclose(both, predict_logits(model, x))


def test_compiled_model_trains_and_saves_plain_weights(synthetic_dir, tmp_path, monkeypatch):
    """torch.compile (on by default on CUDA) keeps the weights file loadable into a plain model, and
    `evaluate` scores it to the last bit: a compiled bf16 forward of a BatchNorm CNN differs from the
    plain one in its last bits, so training scores with the plain model (this failed before)."""
    compiled, original = [], torch.compile

    def spy(model, *args, **kwargs):
        compiled.append(original(model, *args, **kwargs))
        return compiled[-1]

    monkeypatch.setattr(torch, "compile", spy)
    config = load_config("fast", {"epochs": 1, "batch_size": 32, "device": "cpu", "compile": "on",
                                  "precision": "bf16"})
    result = train(config, tmp_path / "c", data_dir=synthetic_dir, progress=False, log=lambda s: None)
    assert len(compiled) == 1  # the training step was compiled, once
    state = torch.load(result.run_dir / "weights.pt", weights_only=True)
    assert not any(k.startswith("_orig_mod") for k in state)
    metrics, disagreements = evaluate_run(result.run_dir, data_dir=synthetic_dir)
    assert disagreements == []


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_compiled_cpu_run_draws_the_eager_runs_dropout_masks(precision, synthetic_dir, tmp_path):
    """On the CPU, CNN dropout masks come from NumPy, seeded from torch's generator. Compiled, Dynamo
    used to trace that seed's draw into a graph, where Inductor drew other numbers: a compiled cnn-2
    trained on other masks than the eager run of the same seed (val_loss 13.5 against 3.5 after one
    epoch, session 16), and its code after each draw recompiled until Dynamo's limit."""
    runs = [train(quick("cnn-2", epochs=2, compile=compile, precision=precision), tmp_path / f"{compile}-{precision}",
                  data_dir=synthetic_dir, progress=False, log=lambda s: None) for compile in ("off", "on")]
    eager, compiled = ([row["val_loss"] for row in run.history] for run in runs)
    assert compiled == pytest.approx(eager, rel=1e-3), (eager, compiled)  # the same masks; fused kernels' last bits aside


def test_compiled_cpu_run_interrupted_and_resumed_gives_the_straight_runs_numbers(synthetic_dir, tmp_path):
    config = quick("cnn-2", epochs=2, compile="on")  # compiles again on resume, and draws on the same dropout masks
    straight = train(config, tmp_path / "a", data_dir=synthetic_dir, progress=False, log=lambda s: None)
    with pytest.raises(Interrupted):
        train(config, tmp_path / "b", data_dir=synthetic_dir, should_stop=lambda e, s: (e, s) == (1, 3),
              progress=False, log=lambda s: None)
    resumed = train(config, tmp_path / "b", data_dir=synthetic_dir, resume=True, progress=False, log=lambda s: None)
    assert [row["val_loss"] for row in resumed.history] == [row["val_loss"] for row in straight.history]


def test_each_compiled_run_compiles_as_in_a_fresh_process(synthetic_dir, tmp_path, monkeypatch):
    """Compiled models share Dynamo's frames (every paper model one). Without a reset per run, ann-1's
    short last batch made the next run compile with a symbolic batch size from its first step
    (session 16, on the CPU: cnn-2 after ann-1, and ann-1 after itself; this failed before)."""
    symbolic, original = [], torch.compile  # per compiled run: for each graph, whether a size was symbolic

    def spy(model, *args, **kwargs):
        symbolic.append([])

        def record(graph, inputs):  # Dynamo chooses the sizes; the graph then runs as traced (no Inductor)
            symbolic[-1].append(any(isinstance(x, torch.SymInt) for x in inputs))
            return graph.forward

        return original(model, backend=record)

    monkeypatch.setattr(torch, "compile", spy)
    train(quick("ann-1", compile="on"), tmp_path / "ann-1", data_dir=synthetic_dir, progress=False, log=lambda s: None)
    assert symbolic[0] == [False, True]  # its last batch (34 images, not 100) recompiled it with a symbolic size
    # Again, on 100 training images: a single full batch, so this run never meets a second batch size.
    train(quick("ann-1", compile="on", train_limit=150), tmp_path / "again", data_dir=synthetic_dir,
          progress=False, log=lambda s: None)
    assert symbolic[1] and not any(symbolic[1]), symbolic[1]


def test_shift_moves_whole_pixels():
    x = torch.zeros(200, 1, 28, 28)
    x[:, :, 14, 14] = 1.0
    out = augment_batch(x, torch.Generator().manual_seed(0), flip=False, zoom=0.0, shift=2)
    peaks = out.flatten(1).argmax(1)
    rows, cols = peaks // 28, peaks % 28
    assert rows.min() >= 12 and rows.max() <= 16 and cols.min() >= 12 and cols.max() <= 16
    assert len(set(zip(rows.tolist(), cols.tolist()))) == 25  # every offset in [-2, 2]^2 occurs
    assert torch.allclose(out.sum((1, 2, 3)), torch.ones(200))  # moved, not blurred


def test_random_erasing_replaces_one_rectangle_of_about_half_the_images_with_noise():
    x = torch.full((400, 1, 28, 28), 2.0)  # outside noise's [0, 1): every erased pixel shows
    out = augment_batch(x, torch.Generator().manual_seed(0), flip=False, erasing=0.5)
    assert torch.equal(out, augment_batch(x, torch.Generator().manual_seed(0), flip=False, erasing=0.5))
    erased = out < 2.0
    touched = erased.flatten(1).any(1)
    assert 150 < touched.sum() < 250  # probability 1/2 per image
    areas = []
    for mask in erased[touched, 0]:
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        box = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert box.all() and box.sum() == mask.sum()  # one solid rectangle, nothing outside it
        areas.append(mask.sum().item() / (28 * 28))
    assert min(areas) >= 0.01 and max(areas) <= 0.45 and max(areas) > 0.3  # about the area range 0.02-0.4
    noise = out[erased]
    assert noise.min() >= 0 and noise.max() < 1 and 0.45 < noise.mean() < 0.55  # uniform noise in [0, 1)
    assert torch.equal(augment_batch(x, torch.Generator(), flip=False, erasing=0.0), x)


@pytest.mark.parametrize("axis, dims", [("rows", (2,)), ("filter", (1, 2, 3))])
def test_trained_cnn2_kernels_are_unit_norm_along_the_configured_axis(axis, dims, synthetic_dir, tmp_path):
    result = train(quick("cnn-2", unit_norm_axis=axis), tmp_path / axis, data_dir=synthetic_dir,
                   progress=False, log=lambda s: None)
    weights = torch.load(result.run_dir / "weights.pt", weights_only=True)
    kernels = [w for k, w in weights.items() if k.endswith(".weight") and w.dim() == 4]
    assert len(kernels) == 4
    for w in kernels:
        norms = w.square().sum(dim=dims).sqrt()
        torch.testing.assert_close(norms, torch.ones_like(norms), atol=1e-5, rtol=0)
    rows = torch.cat([w.norm(dim=2).flatten() for w in kernels])
    assert (axis == "rows") == bool(((rows - 1).abs() < 1e-5).all())  # only the rows form fixes row norms


def test_one_precision_rule_for_scoring_a_run():
    """evaluate and predict both score a run in the precision it recorded, when on the same device type."""
    from fashionlab.device import resolve_precision, scoring_precision

    cpu = torch.device("cpu")
    assert scoring_precision("bf16", cpu, {"device": "cpu", "precision": "fp32"}) == "fp32"
    assert scoring_precision("auto", cpu, {"device": "cpu", "precision": "bf16"}) == "bf16"
    assert scoring_precision("auto", cpu, {"device": "cpu"}) == "fp32"  # recorded before precision existed
    # Trained on another device type: the config's precision is resolved again for this device.
    assert scoring_precision("fp32", cpu, {"device": "cuda:0", "precision": "bf16"}) == "fp32"
    assert scoring_precision("auto", cpu, None) == resolve_precision("auto", cpu)


def test_train_flags_follow_the_schema_and_set_takes_any_key(synthetic_dir, tmp_path, capsys):
    from fashionlab.cli import build_parser

    for command in ("train", "reproduce"):
        text = build_parser()._subparsers._group_actions[0].choices[command].format_help()
        assert "{auto,cpu,cuda}" in text and "--set KEY=VALUE" in text
    assert "{adam,rmsprop,sgd,adamw,muon}" in build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    out = tmp_path / "set"
    assert main(["train", "ann-3", "--epochs", "1", "--train-limit", "200", "--device", "cpu", "--quiet",
                 "--set", "optimizer=sgd", "--set", "label_smoothing=0.1", "--set", 'schedule="onecycle"',
                 "--data-dir", str(synthetic_dir), "--out", str(out)]) == 0
    saved = load_config(str(out / "config.toml"))
    assert (saved.optimizer, saved.label_smoothing, saved.schedule, saved.epochs) == ("sgd", 0.1, "onecycle", 1)
    capsys.readouterr()
    for bad, message in ((["--set", "label_smothing=0.1"], "Did you mean 'label_smoothing'"),
                         (["--set", "lr=fast"], "lr must be float"),
                         (["--set", "lr"], "KEY=VALUE"),
                         (["--epochs", "2", "--set", "epochs=3"], "both given")):
        assert main(["train", "ann-3", "--out", str(tmp_path / "never"), *bad]) == 2, bad
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "never").exists()


def test_collapsed_predictions_are_flagged_with_the_likely_cause():
    from fashionlab.evaluation import evaluate, prediction_collapse

    classes = [f"c{i}" for i in range(10)]
    images, labels = np.zeros((50, 28, 28), np.uint8), np.arange(50) % 10
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.arange(10.0) == 6)  # always class 6
    metrics, _ = evaluate(model, images, labels, classes, torch.device("cpu"))
    assert "100% of the 50 test images are predicted as c6 (100%)" in metrics["warnings"][0]
    assert "not learned" in metrics["warnings"][0]
    # With BatchNorm in the model, the message names Keras's momentum as the likely cause.
    bn_text = prediction_collapse([[0] * 6 + [5] + [0] * 3] * 10, classes, batch_norm=True)
    assert "BatchNorm" in bn_text and "0.99" in bn_text
    # Two classes holding 80% or more is a collapse; a spread of guesses is not.
    two = [[0] * 10 for _ in range(10)]
    for i in range(10):
        two[i][i % 2] = 8
        two[i][2 + i % 8] += 2
    assert prediction_collapse(two, classes, False) is not None
    assert prediction_collapse(np.eye(10, dtype=int).tolist(), classes, False) is None


def test_train_and_evaluate_warn_on_a_collapsed_run(synthetic_dir, tmp_path, capsys):
    result = train(quick("ann-3"), tmp_path / "run", data_dir=synthetic_dir, progress=False, log=lambda s: None)
    weights = torch.load(result.run_dir / "weights.pt", weights_only=True)
    last_bias = [k for k in weights if k.endswith("bias")][-1]
    weights[last_bias] = torch.nn.functional.one_hot(torch.tensor(6), 10).float() * 1e4  # everything is a Shirt
    torch.save(weights, result.run_dir / "weights.pt")
    with pytest.warns(UserWarning, match="predictions collapsed") as caught:  # the CLI prints it as one line
        main(["evaluate", str(result.run_dir), "--data-dir", str(synthetic_dir)])
    text = next(str(w.message) for w in caught if "collapsed" in str(w.message))
    assert "100% of the 100 test images are predicted as Shirt (100%)" in text and str(result.run_dir) in text


def test_train_prints_device_precision_and_threads_and_draws_bars_only_on_a_terminal(synthetic_dir, tmp_path, capsys,
                                                                                     monkeypatch):
    import sys

    argv = ["train", "ann-3", "--epochs", "2", "--train-limit", "200", "--device", "cpu", "--threads", "1",
            "--precision", "fp32", "--data-dir", str(synthetic_dir)]
    assert main([*argv, "--out", str(tmp_path / "piped")]) == 0
    captured = capsys.readouterr()
    assert "device cpu (" in captured.out and "precision fp32, 1 thread;" in captured.out
    assert "134 training and 66 validation images" in captured.out
    assert captured.out.count("epoch ") == 2 and "batch/s" not in captured.err and "\r" not in captured.err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: the bar is drawn
    assert main([*argv, "--out", str(tmp_path / "terminal")]) == 0
    assert "epoch 1/2" in capsys.readouterr().err


def test_resume_may_change_label_and_threads_but_not_the_experiment(synthetic_dir, tmp_path):
    config = quick("ann-3", epochs=2)
    with pytest.raises(Interrupted):
        train(config, tmp_path / "r", data_dir=synthetic_dir, progress=False, log=lambda s: None,
              should_stop=lambda e, s: (e, s) == (1, 2))
    relabelled = load_config("ann-3", {**{k: v for k, v in config.to_dict().items()}, "label": "renamed", "threads": 1})
    result = train(relabelled, tmp_path / "r", data_dir=synthetic_dir, resume=True, progress=False, log=lambda s: None)
    assert load_config(str(result.run_dir / "config.toml")).label == "renamed"
    assert result.metrics["train_count"] == 134 and result.metrics["validation_count"] == 66


def test_multi_crop_tta_weighs_the_centre_half_and_each_diagonal_shift_a_quarter():
    from fashionlab.evaluation import predict_logits, translate

    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 2] = 1.0
    assert translate(x, 1, 1)[0, 0, 2, 3] == 1 and translate(x, -1, -1)[0, 0, 0, 1] == 1
    assert translate(x, 1, 1).sum() == 1 and translate(x, 3, 3).sum() == 0  # moved off the edge: background
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        def mirrored(v):
            return (model(v) + model(v.flip(-1))) / 2
        expected = mirrored(x) / 2 + (mirrored(translate(x, 2, 2)) + mirrored(translate(x, -2, -2))) / 4
    torch.testing.assert_close(predict_logits(model, x, tta_flip=True, tta_shift=2), expected)


def test_alternating_flips_mirror_each_image_in_every_other_epoch(synthetic_dir, tmp_path):
    config = load_config("fast", {"epochs": 3, "train_limit": 200, "device": "cpu", "alternate_flip": True,
                                  "batch_size": 50})
    from fashionlab.training import _set_up
    from fashionlab.runs import RunDir

    fit, _ = _set_up(RunDir(tmp_path / "r"), config, synthetic_dir)
    index = torch.arange(fit.split.train_y.shape[0])
    first, second, third = (fit.flips(index, epoch) for epoch in (1, 2, 3))
    assert torch.equal(second, ~first) and torch.equal(third, first)
    assert 0.3 < first.float().mean() < 0.7  # the first epoch's flips are a seeded coin toss per image
    x = fit.split.train_x[:4]
    out = augment_batch(x, torch.Generator(), flip=True, flips=torch.tensor([True, False, True, False]))
    assert torch.equal(out[0], x[0].flip(-1)) and torch.equal(out[1], x[1])


def test_dirac_and_whitening_init_shape_the_runs_starting_weights(synthetic_dir, tmp_path):
    from fashionlab.runs import RunDir
    from fashionlab.training import _set_up

    def start(name, **keys):
        config = load_config("fast", {"train_limit": 200, "device": "cpu", "whiten_init": False, **keys})
        return _set_up(RunDir(tmp_path / name), config, synthetic_dir)[0].model

    plain, dirac, white = start("a"), start("b", dirac_init=True), start("c", whiten_init=True)
    identity = torch.zeros(3, 3)
    identity[1, 1] = 1
    assert torch.equal(dirac.blocks[1].conv.weight[5, 5], identity) and not torch.equal(plain.blocks[1].conv.weight[5, 5], identity)
    pairs = min(9, white.stem.conv.out_channels // 2)  # 9 filters for 3x3 patches; fastnet3's stem holds 8 pairs
    assert pairs == 8 and torch.equal(white.stem.conv.weight[pairs:2 * pairs], -white.stem.conv.weight[:pairs])
    assert torch.equal(white.blocks[0].conv.weight, plain.blocks[0].conv.weight)  # the rest as the seed draws it
    with pytest.raises(UserError, match="whiten_init needs a model with a convolution"):
        start("d", model="ann-1", whiten_init=True)


def test_the_weight_average_gets_batchnorm_statistics_of_its_own(synthetic_dir, tmp_path):
    """Not the average of the statistics along the way: those of the averaged weights, on training images."""
    from torch.optim.swa_utils import update_bn

    from fashionlab.data import load_dataset
    from fashionlab.models import build_model

    config = load_config("fast", {"epochs": 2, "train_limit": 240, "batch_size": 32, "device": "cpu", "ema": 0.95,
                                  "precision": "fp32", "whiten_init": False})
    train(config, tmp_path / "run", data_dir=synthetic_dir, progress=False, log=lambda s: None)
    saved = torch.load(tmp_path / "run" / "weights.pt", weights_only=True)
    live = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["model"]
    model = build_model(config.model)
    model.load_state_dict(saved)
    train_x = prepare_split(*[load_dataset(config.release, synthetic_dir).train_images[:240],
                              np.zeros(240, dtype=np.int64)], config, torch.device("cpu")).train_x
    update_bn([train_x], model)  # the average's own statistics, in one batch of every training image
    means = [k for k in saved if k.endswith("running_mean")]
    assert means and all(torch.allclose(model.state_dict()[k], saved[k], atol=1e-4) for k in means)
    assert not all(torch.allclose(live[k], saved[k], atol=1e-4) for k in means)  # the live network's differ


def test_ema_weights_are_validated_tested_saved_and_resumed_exactly_with_every_recipe_key(synthetic_dir, tmp_path,
                                                                                         monkeypatch):
    import fashionlab.training as training

    whitened = []
    monkeypatch.setattr(training, "whiten_first_conv_",
                        lambda model, images: whitened.append(1) or whiten_first_conv_(model, images))
    config = load_config("fast", {"epochs": 2, "train_limit": 240, "batch_size": 32, "device": "cpu", "ema": 0.9,
                                  "alternate_flip": True, "tta_shift": 1, "random_erasing": 0.5,
                                  "dirac_init": True, "whiten_init": True, "bn_bias_lr_scale": 8.0})
    kwargs = dict(data_dir=synthetic_dir, progress=False, log=lambda s: None)
    straight = train(config, tmp_path / "a", **kwargs)
    with pytest.raises(Interrupted):
        train(config, tmp_path / "b", should_stop=lambda e, s: (e, s) == (2, 2), **kwargs)
    resumed = train(config, tmp_path / "b", resume=True, **kwargs)
    assert _history_without_time(resumed.history) == _history_without_time(straight.history)
    assert len(whitened) == 2  # once per fresh run; the resume takes the checkpoint's weights instead
    saved = torch.load(tmp_path / "a" / "weights.pt", weights_only=True)
    averaged = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)["ema"]
    assert all(torch.equal(saved[k], averaged[f"module.{k}"]) for k in saved)  # the averaged weights are the run's
    last = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)["model"]
    assert any(not torch.equal(saved[k], last[k]) for k in saved if saved[k].is_floating_point())
    metrics, disagreements = evaluate_run(tmp_path / "a", data_dir=synthetic_dir)
    assert disagreements == []  # evaluate scores the saved (averaged) weights with the same multi-crop TTA


def test_low_res_epochs_train_on_smaller_images_then_full_size_and_resume_exactly(synthetic_dir, tmp_path, monkeypatch):
    """Progressive resizing: the first low_res_epochs epochs see low_res x low_res batches, the rest and every
    validation and test pass 28x28; an interrupted low-res epoch resumes to the straight run's numbers."""
    from fashionlab.models import fast

    seen = []  # (training?, side) of every forward pass
    original = fast.FastNet.forward
    monkeypatch.setattr(fast.FastNet, "forward", lambda self, x: seen.append((self.training, x.shape[-1])) or original(self, x))
    config = load_config("fast", {"epochs": 3, "low_res_epochs": 2, "low_res": 12, "train_limit": 200,
                                  "batch_size": 50, "device": "cpu"})
    kwargs = dict(data_dir=synthetic_dir, progress=False, log=lambda s: None)
    straight = train(config, tmp_path / "a", **kwargs)
    train_sides = [side for training, side in seen if training]
    steps = len(train_sides) // 3
    assert train_sides == [12] * (2 * steps) + [28] * steps
    assert {side for training, side in seen if not training} == {28}
    with pytest.raises(Interrupted):
        train(config, tmp_path / "b", should_stop=lambda e, s: (e, s) == (2, 1), **kwargs)
    resumed = train(config, tmp_path / "b", resume=True, **kwargs)
    assert _history_without_time(resumed.history) == _history_without_time(straight.history)
    full = train(load_config("fast", {"epochs": 3, "train_limit": 200, "batch_size": 50, "device": "cpu"}),
                 tmp_path / "c", **kwargs)
    assert full.history[0]["train_loss"] != straight.history[0]["train_loss"]


def test_low_res_epochs_need_a_network_of_any_size_and_a_full_size_last_epoch(capsys):
    with pytest.raises(UserError, match="cnn-2 takes 28x28 only"):
        load_config("cnn-2", {"low_res_epochs": 1})
    with pytest.raises(UserError, match=r"low_res_epochs \(4\) must be below epochs \(4\)"):
        load_config("fast", {"low_res_epochs": 4})
    assert main(["train", "fast", "--set", "low_res=28"]) == 2
    assert "low_res must be in [4, 27]" in capsys.readouterr().err


def test_a_last_batch_of_one_image_under_a_dense_batchnorm_is_one_line(synthetic_dir, tmp_path, capsys):
    """42 images at split 0.2 leave 33 to train on: batches of 32 and 1, which PyTorch's BatchNorm1d refuses."""
    from conftest import one_line_exit_2

    out = tmp_path / "run"
    err = one_line_exit_2(["train", "cnn-1", "--epochs", "1", "--train-limit", "42", "--batch-size", "32", "--device",
                           "cpu", "--data-dir", str(synthetic_dir), "--out", str(out)], capsys)
    assert "33 training images at batch_size 32 leave one" in err and not out.exists()
    assert main(["train", "ann-3", "--epochs", "1", "--train-limit", "42", "--batch-size", "32", "--device", "cpu",
                 "--data-dir", str(synthetic_dir), "--out", str(tmp_path / "ann"), "--quiet"]) == 0  # no BatchNorm1d
