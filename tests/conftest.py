import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

# Decoded-array cache in a throwaway folder, never the user's ~/.cache.
os.environ.setdefault("FASHIONLAB_CACHE", tempfile.mkdtemp(prefix="fashionlab-test-cache-"))

from fashionlab.data.idx import write_idx  # noqa: E402
from fashionlab.data.releases import SPLIT_FILES  # noqa: E402


def real_data_dir() -> Path:
    env = os.environ.get("FASHIONLAB_DATA")
    if not env:
        pytest.skip("FASHIONLAB_DATA is not set: point it at the real Fashion-MNIST folder to run this test")
    return Path(env)


@pytest.fixture
def real_data():
    return real_data_dir()


def synthetic_arrays(n_train=300, n_test=100, seed=0):
    """Learnable fake data: each class is a bright bar at its own row band, plus noise."""
    rng = np.random.default_rng(seed)

    def make(n):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 + 2 * label : 5 + 2 * label, 4:24] = 220
        return images, labels.astype(np.uint8)

    return make(n_train), make(n_test)


def write_dataset(folder: Path, n_train=300, n_test=100, seed=0) -> Path:
    (train_x, train_y), (test_x, test_y) = synthetic_arrays(n_train, n_test, seed)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / SPLIT_FILES["train_images"], train_x)
    write_idx(folder / SPLIT_FILES["train_labels"], train_y)
    write_idx(folder / SPLIT_FILES["test_images"], test_x)
    write_idx(folder / SPLIT_FILES["test_labels"], test_y)
    return folder


@pytest.fixture
def synthetic_dir(tmp_path):
    return write_dataset(tmp_path / "synthetic")
