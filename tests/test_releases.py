"""MNIST and KMNIST run through the same data layer, downloads and presets as Fashion-MNIST.

Neither is on this machine, so these tests serve synthetic IDX files from a local HTTP server
under the real releases' file names.
"""

import dataclasses
import hashlib
import json

import pytest

from fashionlab import load_dataset
from fashionlab.cli import main
from fashionlab.data import releases
from fashionlab.data.releases import DIGIT_CLASSES, RELEASES, SPLIT_FILES, identify

from conftest import Server, one_line_exit_2, write_dataset

pytestmark = pytest.mark.filterwarnings("ignore:.*unknown.*:UserWarning")


def test_every_release_names_four_files_with_md5s():
    assert {"fashion-mnist", "fashion-mnist-2017-08-26", "mnist", "kmnist"} <= set(RELEASES)
    for release in RELEASES.values():
        assert set(release.md5) == set(SPLIT_FILES.values())
        assert all(len(m) == 32 for m in release.md5.values()) and release.mirrors and len(release.classes) == 10
    assert identify(RELEASES["mnist"].md5) is RELEASES["mnist"]
    md5s = len({m for r in RELEASES.values() for m in r.md5.values()})
    assert md5s == 4 * len(RELEASES)  # no two releases share a file


@pytest.fixture
def served_mnist(tmp_path, monkeypatch):
    """The mnist release, its mirrors pointed at a local server holding synthetic files."""
    src = write_dataset(tmp_path / "src", n_train=300, n_test=100, seed=7)
    server = Server()
    md5 = {}
    for name in SPLIT_FILES.values():
        server.routes["/mnist/" + name] = (src / name).read_bytes()
        md5[name] = hashlib.md5(server.routes["/mnist/" + name]).hexdigest()
    release = dataclasses.replace(RELEASES["mnist"], md5=md5, mirrors=(server.url + "/gone/", server.url + "/mnist/"))
    monkeypatch.setitem(releases.RELEASES, "mnist", release)
    monkeypatch.setenv("FASHIONLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("FASHIONLAB_DATA", raising=False)
    yield release
    server.close()


def test_mnist_downloads_into_the_cache_and_loads(served_mnist, tmp_path):
    ds = load_dataset("mnist")
    assert ds.release == "mnist" and ds.classes == DIGIT_CLASSES
    assert ds.data_dir == tmp_path / "cache" / "mnist"
    assert ds.train_images.shape == (300, 28, 28) and ds.test_labels.shape == (100,)
    assert main(["data", "verify", "--release", "mnist", "--data-dir", str(ds.data_dir)]) == 0


def test_a_paper_preset_trains_on_mnist(served_mnist, tmp_path, capsys):
    out = tmp_path / "cnn-1-mnist"
    assert main(["train", "cnn-1", "--release", "mnist", "--epochs", "1", "--device", "cpu", "--out", str(out),
                 "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["release"] == "mnist" and metrics["classes"] == list(DIGIT_CLASSES)
    assert json.loads((out / "environment.json").read_text())["dataset"]["release"] == "mnist"


def test_asking_for_mnist_in_a_fashion_folder_is_refused(real_data, capsys):
    assert main(["data", "info", "--release", "mnist", "--data-dir", str(real_data)]) == 2
    assert "holds fashion-mnist-2017-08-26, but mnist was asked for" in capsys.readouterr().err


def test_kmnist_uses_the_same_layer(tmp_path):
    write_dataset(tmp_path / "KMNIST" / "raw")
    ds = load_dataset("kmnist", data_dir=tmp_path)  # torchvision's layout
    assert ds.classes[0] == "o" and ds.release == "unknown"


# ---------------------------------------------------------------- folders of uncompressed IDX files


def _gunzip_folder(src, dest):
    """The folder's .gz files decompressed into `dest` under their uncompressed names."""
    import gzip
    import shutil

    dest.mkdir(parents=True)
    for name in SPLIT_FILES.values():
        with gzip.open(src / name, "rb") as fin, open(dest / releases.raw_name(name), "wb") as fout:
            shutil.copyfileobj(fin, fout)
    return dest


def test_raw_checksums_are_those_of_the_decompressed_real_files(real_data):
    import gzip

    known = RELEASES["fashion-mnist-2017-08-26"]
    assert set(known.raw_md5) == {releases.raw_name(n) for n in SPLIT_FILES.values()}
    for name in SPLIT_FILES.values():
        assert hashlib.md5((real_data / name).read_bytes()).hexdigest() == known.md5[name]
        digest = hashlib.md5()
        with gzip.open(real_data / name, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        assert digest.hexdigest() == known.raw_md5[releases.raw_name(name)]
    for release in RELEASES.values():  # only checksums computed from a real copy are listed
        assert not release.raw_md5 or release is known


def test_a_raw_copy_of_the_real_data_is_named_and_verified(real_data, tmp_path, capsys):
    raw = _gunzip_folder(real_data, tmp_path / "raw")
    assert main(["data", "info", "--data-dir", str(raw)]) == 0
    out = capsys.readouterr().out
    assert "release:  fashion-mnist-2017-08-26" in out and ".gz" not in out
    for name in SPLIT_FILES.values():
        assert f"  {releases.raw_name(name)} " in out and out.count("  ok\n") == 4
    assert main(["data", "verify", "--data-dir", str(raw)]) == 0
    assert "all 4 files match fashion-mnist-2017-08-26" in capsys.readouterr().out
    err = one_line_exit_2(["data", "verify", "--data-dir", str(raw), "--release", "fashion-mnist"], capsys)
    assert "holds fashion-mnist-2017-08-26" in err and "Delete" not in err
    ds = load_dataset("fashion-mnist-2017-08-26", data_dir=raw)
    assert ds.release == "fashion-mnist-2017-08-26"
    assert ds.file_names == {n: releases.raw_name(n) for n in SPLIT_FILES.values()}


def test_raw_files_identify_a_release_by_their_own_checksums(tmp_path, monkeypatch, capsys):
    """Synthetic files under a release whose gzipped and uncompressed checksums are both known."""
    gz = write_dataset(tmp_path / "gz", seed=3)
    raw = _gunzip_folder(gz, tmp_path / "raw")
    md5 = {n: hashlib.md5((gz / n).read_bytes()).hexdigest() for n in SPLIT_FILES.values()}
    raw_md5 = {releases.raw_name(n): hashlib.md5((raw / releases.raw_name(n)).read_bytes()).hexdigest()
               for n in SPLIT_FILES.values()}
    monkeypatch.setitem(releases.RELEASES, "kmnist", dataclasses.replace(RELEASES["kmnist"], md5=md5, raw_md5=raw_md5))
    assert identify(md5) is releases.RELEASES["kmnist"] and identify(raw_md5) is releases.RELEASES["kmnist"]
    mixed = {**raw_md5, SPLIT_FILES["test_images"]: md5[SPLIT_FILES["test_images"]]}
    del mixed[releases.raw_name(SPLIT_FILES["test_images"])]
    assert identify(mixed) is releases.RELEASES["kmnist"]  # some files gzipped, some not
    assert main(["data", "verify", "--data-dir", str(raw), "--release", "kmnist"]) == 0
    # One uncompressed file changed: named by its real name, and only it is to be replaced.
    damaged = raw / releases.raw_name(SPLIT_FILES["train_labels"])
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"\x01")
    err = one_line_exit_2(["data", "verify", "--data-dir", str(raw), "--release", "kmnist"], capsys)
    assert f"checksums differ from kmnist for {damaged.name}." in err


def test_raw_files_without_known_checksums_are_not_called_bad(tmp_path, capsys):
    raw = _gunzip_folder(write_dataset(tmp_path / "gz"), tmp_path / "raw")
    with pytest.warns(UserWarning, match="uncompressed files are known only for fashion-mnist-2017-08-26"):
        assert load_dataset(data_dir=raw).release == "unknown"
    err = one_line_exit_2(["data", "verify", "--data-dir", str(raw), "--release", "mnist"], capsys)
    assert "every file decodes cleanly" in err and "knows no checksum for the uncompressed" in err
    assert "Delete" not in err and "train-images-idx3-ubyte," in err and ".gz" not in err.split("NEW_DIR")[0]
