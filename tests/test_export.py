import json

import numpy as np
import pytest
import torch

from fashionlab.cli import main
from fashionlab.experiment import load_config
from fashionlab.training import train

from conftest import one_line_exit_2

pytestmark = pytest.mark.filterwarnings("ignore:.*unknown.*:UserWarning")
onnxruntime = pytest.importorskip("onnxruntime", reason="ONNX export needs the `export` extra (onnx, onnxruntime)")


def tiny_run(name, data_dir, out, **overrides):
    config = load_config(name, {"epochs": 1, "train_limit": 300, "device": "cpu", **overrides})
    return train(config, out, data_dir=data_dir, progress=False, log=lambda s: None).run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from conftest import write_dataset

    root = tmp_path_factory.mktemp("export")
    data = write_dataset(root / "data")
    return data, {"cnn-2": tiny_run("cnn-2", data, root / "cnn2"), "fast": tiny_run("fast", data, root / "fast"),
                  "fast-shift-tta": tiny_run("fast", data, root / "fast-shift-tta", tta_shift=1)}


def reference_probabilities(run_dir, data_dir):
    """fashionlab's own scoring of the test set, in fp32: softmax of predict_logits (with the run's TTA)."""
    from fashionlab import load_dataset
    from fashionlab.evaluation import load_run_model, predict_logits, to_input

    loaded = load_run_model(run_dir, device="cpu")
    ds = load_dataset(data_dir=data_dir)
    logits = predict_logits(loaded.model.float(), to_input(ds.test_images, torch.device("cpu")), precision="fp32",
                            channels_last=loaded.channels_last, tta_flip=loaded.config.tta_flip,
                            tta_shift=loaded.config.tta_shift)
    return torch.softmax(logits, 1).numpy(), ds


# fast has flip TTA: the export must average the mirror; fast-shift-tta the shifted views too
@pytest.mark.parametrize("name", ["cnn-2", "fast", "fast-shift-tta"])
def test_onnx_export_matches_pytorch_and_carries_metadata(runs, name, tmp_path, capsys):
    from fashionlab.export import read_onnx_metadata

    data, run_dirs = runs
    out = tmp_path / "model.onnx"
    assert main(["export", str(run_dirs[name]), "--format", "onnx", "--out", str(out), "--data-dir", str(data)]) == 0
    printed = capsys.readouterr().out
    assert "100 of 100" in printed and "largest probability difference" in printed
    meta = read_onnx_metadata(out)
    metrics = json.loads((run_dirs[name] / "metrics.json").read_text())
    assert json.loads(meta["class_names"])[0] == "T-shirt/top" and meta["tta_flip"] == ("false" if name == "cnn-2" else "true")
    assert meta["tta_shift"] == ("1" if name == "fast-shift-tta" else "0")
    assert float(meta["test_accuracy"]) == pytest.approx(metrics["test_accuracy"], abs=1e-6)
    assert {"release", "input_scaling", "fashionlab_version"} <= set(meta)

    expected, ds = reference_probabilities(run_dirs[name], data)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = ds.test_images.astype(np.float32)[:, None] / 255
    for batch in (1, 7, 100):  # any batch size
        got = session.run(["probabilities"], {"images": x[:batch]})[0]
        np.testing.assert_allclose(got, expected[:batch], atol=1e-4)
    assert (session.run(None, {"images": x})[0].argmax(1) == expected.argmax(1)).all()


def test_torchscript_export(runs, tmp_path, capsys):
    data, run_dirs = runs
    out = tmp_path / "model.pt"
    assert main(["export", str(run_dirs["fast"]), "--format", "torchscript", "--out", str(out), "--data-dir", str(data)]) == 0
    extra = {"metadata.json": ""}
    module = torch.jit.load(str(out), _extra_files=extra)
    assert json.loads(extra["metadata.json"])["model"] == "fastnet3"
    expected, ds = reference_probabilities(run_dirs["fast"], data)
    got = module(torch.from_numpy(ds.test_images.astype(np.float32)[:, None] / 255)).detach().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_export_refuses_bad_targets(runs, tmp_path, capsys):
    data, run_dirs = runs
    assert main(["export", str(tmp_path), "--data-dir", str(data)]) == 2  # not a run
    assert main(["export", str(run_dirs["cnn-2"]), "--out", str(tmp_path), "--data-dir", str(data)]) == 2  # a folder
    err = capsys.readouterr().err
    assert "is no run directory" in err
    assert "is a directory" in err
    assert not list(tmp_path.glob("*.onnx"))
    # A path no file can be written at: named by the path given (not a temporary file's), before any work.
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    bad = tmp_path / "notes.txt" / "model.onnx"
    err = one_line_exit_2(["export", str(run_dirs["cnn-2"]), "--out", str(bad), "--data-dir", str(data)], capsys)
    assert err.startswith(f"fashionlab: error: --out {bad}: {tmp_path / 'notes.txt'} is a file, not a folder"), err
    err = one_line_exit_2(["export", str(run_dirs["cnn-2"]), "--out", f"{tmp_path / 'new'}/", "--data-dir", str(data)],
                          capsys)  # a trailing slash: a folder meant, not a file named "new"
    assert f"{tmp_path / 'new'}/ names a folder" in err and not (tmp_path / "new").exists()


def test_onnx_export_agrees_on_the_full_real_test_set(real_data, tmp_path, capsys):
    run_dir = tiny_run("cnn-2", real_data, tmp_path / "run", train_limit=600)
    assert main(["export", str(run_dir), "--data-dir", str(real_data)]) == 0
    assert "10000 of 10000 test images" in capsys.readouterr().out
    assert (run_dir / "model.onnx").is_file()


@pytest.mark.parametrize("fmt, name, says", [("torchscript", "model.onnx", "the name says onnx"),
                                             ("onnx", "model.PT", "the name says torchscript")])
def test_export_refuses_a_name_of_the_other_format(runs, tmp_path, capsys, fmt, name, says):
    data, run_dirs = runs
    out = tmp_path / name
    err = one_line_exit_2(["export", str(run_dirs["cnn-2"]), "--format", fmt, "--out", str(out), "--data-dir", str(data)],
                          capsys)
    assert says in err and f"--format {fmt} writes {fmt}" in err and not out.exists()
