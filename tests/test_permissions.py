"""Unreadable files and folders, and folders that cannot be written, through the CLI: one line,
exit code 2, never a PermissionError traceback.

Root reads and writes whatever the mode bits say, so as root the CLI runs in a child process
whose bounding set lacks the two capabilities that let it (CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH), dropped with util-linux's `setpriv`: the kernel then checks permissions
as for anyone. As root without a working setpriv these tests skip.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import write_dataset
from fashionlab.data.releases import SPLIT_FILES

pytestmark = pytest.mark.filterwarnings("ignore:.*unknown.*:UserWarning")

DROP_ROOT_POWERS = ["--bounding-set=-dac_override,-dac_read_search"]


@pytest.fixture(scope="module")
def as_user():
    """The command prefix that makes mode bits apply to this process's children."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None or subprocess.run([setpriv, *DROP_ROOT_POWERS, "true"]).returncode != 0:
        pytest.skip("running as root, and setpriv (util-linux) cannot drop the capabilities that let root "
                    "read a chmod 000 file")
    return [setpriv, *DROP_ROOT_POWERS]


def _cli(prefix, argv, cwd, env=None):
    return subprocess.run([*prefix, sys.executable, "-m", "fashionlab", *argv], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=300)


def _one_line_exit_2(proc) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.stderr


@pytest.fixture
def locked(tmp_path):
    """chmod(path, mode) now, restored afterwards so that pytest can clean up as any user."""
    changed = []

    def lock(path, mode):
        changed.append((path, path.stat().st_mode))
        path.chmod(mode)
        return path

    yield lock
    for path, mode in reversed(changed):
        path.chmod(mode)


def test_the_child_really_obeys_mode_bits(as_user, tmp_path, locked):
    """Guards the tests below: a chmod 000 file cannot be read by the child process."""
    secret = tmp_path / "secret"
    secret.write_text("x")
    locked(secret, 0)
    proc = subprocess.run([*as_user, sys.executable, "-c", f"open({str(secret)!r}).read()"], capture_output=True,
                          text=True)
    assert proc.returncode != 0 and "PermissionError" in proc.stderr


@pytest.mark.parametrize(
    "what, mode, words",
    [
        ("data file", 0, r"t10k-images-idx3-ubyte.gz: cannot read the file (Permission denied)"),
        ("data folder", 0, "synthetic: cannot read the folder (Permission denied)"),
        ("data folder", 0o644, "synthetic: cannot read the folder (Permission denied)"),  # listable, not searchable
    ],
)
def test_unreadable_data(as_user, tmp_path, locked, what, mode, words):
    folder = write_dataset(tmp_path / "synthetic")
    locked(folder / SPLIT_FILES["test_images"] if what == "data file" else folder, mode)
    commands = [["data", "info"]] + ([["train", "ann-3", "--epochs", "1", "--out", "run"]] if mode == 0 else [])
    for argv in commands:  # (each child process costs seconds: torch's import)
        err = _one_line_exit_2(_cli(as_user, [*argv, "--data-dir", str(folder)], tmp_path))
        assert words in err
    assert not (tmp_path / "run").exists()


def test_an_unsearchable_subfolder_is_named_once(as_user, tmp_path, locked):
    root = tmp_path / "torchvision"
    write_dataset(root / "FashionMNIST" / "raw")
    locked(root / "FashionMNIST", 0o644)
    err = _one_line_exit_2(_cli(as_user, ["data", "info", "--data-dir", str(root)], tmp_path))
    assert f"{root / 'FashionMNIST'} is a folder that cannot be searched" in err and err.count("cannot be searched") == 1


def test_unreadable_config_and_image(as_user, tmp_path, locked):
    config = tmp_path / "c.toml"
    config.write_text('model = "ann-3"\n')
    locked(config, 0)
    err = _one_line_exit_2(_cli(as_user, ["train", str(config), "--out", "run"], tmp_path))
    assert f"{config}: cannot read the config file (Permission denied)" in err
    image = tmp_path / "item.png"
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(image)
    locked(image, 0)
    err = _one_line_exit_2(_cli(as_user, ["predict", "no-run", str(image)], tmp_path))  # images are read first
    assert f"{image}: cannot read the file (Permission denied)" in err


@pytest.mark.parametrize("out", ["ro/grid.png", "ro/deeper/grid.png"])
def test_an_output_folder_that_cannot_be_written(as_user, tmp_path, locked, out):
    folder = write_dataset(tmp_path / "synthetic")
    (tmp_path / "ro").mkdir()
    locked(tmp_path / "ro", 0o555)
    err = _one_line_exit_2(_cli(as_user, ["data", "show", "--data-dir", str(folder), "--out", out], tmp_path))
    assert f"--out {out}: cannot create files in ro (Permission denied)" in err
    assert list((tmp_path / "ro").iterdir()) == []


def test_a_read_only_array_cache_is_only_a_warning(as_user, tmp_path, locked):
    folder = write_dataset(tmp_path / "synthetic")
    cache = tmp_path / "cache"
    cache.mkdir()
    locked(cache, 0o555)
    proc = _cli(as_user, ["data", "show", "--data-dir", str(folder), "--out", "grid.png"], tmp_path,
                {"FASHIONLAB_CACHE": str(cache)})
    assert proc.returncode == 0, proc.stderr
    assert "could not write the array cache" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "grid.png").is_file() and list(cache.iterdir()) == []
