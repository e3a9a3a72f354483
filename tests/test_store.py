import shutil
import subprocess
import sys

import numpy as np
import pytest

from fashionlab import load_dataset
from fashionlab.cli import main
from fashionlab.data.idx import encode_idx, write_idx
from fashionlab.data.releases import SPLIT_FILES
from fashionlab.errors import DatasetError

from conftest import synthetic_arrays, write_dataset


def test_real_copy_loads_and_is_detected(real_data):
    ds = load_dataset(data_dir=real_data)
    assert ds.release == "fashion-mnist-2017-08-26"
    assert ds.train_images.shape == (60000, 28, 28) and ds.train_images.dtype == np.uint8
    assert ds.test_images.shape == (10000, 28, 28)
    assert np.bincount(ds.train_labels).tolist() == [6000] * 10
    assert np.bincount(ds.test_labels).tolist() == [1000] * 10
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    # Figures the dataset README gives for this copy.
    assert abs(ds.train_images.mean() / 255 - 0.2861) < 1e-4


def test_real_copy_cli_info(real_data, capsys):
    assert main(["data", "info", "--data-dir", str(real_data)]) == 0
    out = capsys.readouterr().out
    assert "fashion-mnist-2017-08-26" in out and "60,000 images" in out and "10,000 images" in out
    assert main(["data", "verify", "--data-dir", str(real_data)]) == 0


def test_synthetic_copy_is_unknown_but_loads_with_warning(synthetic_dir):
    with pytest.warns(UserWarning, match="unknown"):
        ds = load_dataset(data_dir=synthetic_dir)
    assert ds.release == "unknown"
    assert ds.train_images.shape == (300, 28, 28)
    assert len(ds.checksums) == 4


def test_cache_is_memory_mapped_and_invalidated_by_a_changed_file(synthetic_dir):
    with pytest.warns(UserWarning):
        first = load_dataset(data_dir=synthetic_dir)
    with pytest.warns(UserWarning):
        second = load_dataset(data_dir=synthetic_dir)
    assert isinstance(second.train_images, np.memmap)
    np.testing.assert_array_equal(first.train_images, second.train_images)
    (new_x, _), _ = synthetic_arrays(300, 100, seed=5)
    write_idx(synthetic_dir / SPLIT_FILES["train_images"], new_x)
    with pytest.warns(UserWarning):
        third = load_dataset(data_dir=synthetic_dir)
    np.testing.assert_array_equal(third.train_images, new_x)


@pytest.mark.parametrize("layout", ["FashionMNIST/raw", "raw-unzipped"])
def test_torchvision_layouts(tmp_path, layout):
    src = write_dataset(tmp_path / "src")
    root = tmp_path / "torchvision"
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in SPLIT_FILES.values():
        if layout == "raw-unzipped":
            import gzip

            (raw / name[:-3]).write_bytes(gzip.decompress((src / name).read_bytes()))
        else:
            shutil.copy(src / name, raw / name)
    with pytest.warns(UserWarning):
        ds = load_dataset(data_dir=root)
    assert ds.test_images.shape == (100, 28, 28)


def test_missing_folder_and_missing_files(tmp_path):
    with pytest.raises(DatasetError, match="is not a folder"):
        load_dataset(data_dir=tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="missing train-images"):
        load_dataset(data_dir=tmp_path / "empty")


def _corrupt(folder, kind):
    images = folder / SPLIT_FILES["train_images"]
    good = encode_idx(synthetic_arrays(300, 100)[0][0])
    import gzip

    if kind == "truncated header":
        images.write_bytes(gzip.compress(good[:6]))
    elif kind == "truncated payload":
        images.write_bytes(gzip.compress(good[:-100]))
    elif kind == "wrong magic":
        write_idx(images, np.zeros(300, dtype=np.uint8))  # a labels file in the images' place
    elif kind == "wrong dtype":
        images.write_bytes(gzip.compress(good[:2] + b"\x0d" + good[3:]))
    elif kind == "counts disagree":
        write_idx(images, np.zeros((299, 28, 28), dtype=np.uint8))
    elif kind == "not gzip":
        images.write_bytes(good)
    elif kind == "garbage":
        images.write_bytes(np.random.default_rng(0).bytes(5000))
    return images


KINDS = ["truncated header", "truncated payload", "wrong magic", "wrong dtype", "counts disagree", "not gzip", "garbage"]


@pytest.mark.parametrize("kind", KINDS)
def test_corrupt_file_cli_exit_2_one_line_no_traceback(synthetic_dir, kind, capsys):
    bad = _corrupt(synthetic_dir, kind)
    for argv in (["data", "info"], ["data", "verify"]):
        code = main([*argv, "--data-dir", str(synthetic_dir)])
        err = capsys.readouterr().err
        assert code == 2, (kind, err)
        assert "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
        assert str(bad) in err or "train-images" in err


def test_cli_subprocess_exit_code_2(tmp_path):
    folder = write_dataset(tmp_path / "d")
    _corrupt(folder, "truncated payload")
    proc = subprocess.run(
        [sys.executable, "-m", "fashionlab", "data", "info", "--data-dir", str(folder)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "truncated payload" in proc.stderr and "Traceback" not in proc.stderr


def test_version():
    proc = subprocess.run([sys.executable, "-m", "fashionlab", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("fashionlab ")


def test_data_show_writes_png(synthetic_dir, tmp_path):
    out = tmp_path / "grid.png"
    with pytest.warns(UserWarning):
        assert main(["data", "show", "--data-dir", str(synthetic_dir), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
