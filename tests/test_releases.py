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

from conftest import Server, write_dataset

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
