"""`load_dataset`: one call from a release name to validated uint8 arrays, named by checksum."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from .releases import get_release
from .store import check_data_folder, default_data_dir, fetch, inspect_folder, read_split_arrays


@dataclass(frozen=True)
class Dataset:
    train_images: np.ndarray  # uint8, N x 28 x 28
    train_labels: np.ndarray  # uint8, N
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: tuple[str, ...]
    release: str  # detected by checksum; "unknown" for an unrecognised copy
    checksums: dict[str, str]  # standard (.gz) file name -> md5 of the file found for that split
    data_dir: Path
    description: str = ""  # what the checksums say about the copy, for `data info`
    file_names: dict[str, str] = field(default_factory=dict)  # standard name -> name on disk (maybe uncompressed)

    def __repr__(self) -> str:  # the arrays' contents would fill a notebook cell
        return (f"Dataset({self.release!r}, train {self.train_images.shape[0]:,} and test "
                f"{self.test_images.shape[0]:,} images of 28x28 uint8, {len(self.classes)} classes, from {str(self.data_dir)!r})")

    def summary(self) -> dict:
        """Counts per split and class, as `data info --json` prints them."""
        return {
            "release": self.release,
            "data_dir": str(self.data_dir),
            "checksums": self.checksums,
            "files": self.file_names,
            "classes": list(self.classes),
            "splits": {
                split: {
                    "count": int(labels.shape[0]),
                    "per_class": {
                        name: int(n)
                        for name, n in zip(self.classes, np.bincount(labels, minlength=len(self.classes)))
                    },
                }
                for split, labels in (("train", self.train_labels), ("test", self.test_labels))
            },
        }


def validation_split(n: int, fraction: float) -> int:
    """Index where Keras splits: train = [:split_at], validation = [split_at:]."""
    return int(n * (1.0 - fraction))


def split_training_set(images: np.ndarray, labels: np.ndarray, fraction: float, limit: int | None = None):
    """((train images, labels), (validation images, labels)): the first `limit` training images, split as Keras
    does, the last `fraction` held out. Training and `evaluate --split validation` both split here."""
    if limit:
        images, labels = images[:limit], labels[:limit]
    at = validation_split(len(images), fraction)
    return (images[:at], labels[:at]), (images[at:], labels[at:])


def load_dataset(
    release: str = "fashion-mnist",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    use_cache: bool = True,
) -> Dataset:
    """Load a release from `data_dir`, else $FASHIONLAB_DATA, else the user cache.

    Only the user cache is filled by downloading (when `download`); a folder named by the user
    must already hold the files. A copy that matches no known release still loads, with a
    warning, if its files are valid; a copy of a different dataset family is an error.
    """
    wanted = get_release(release)
    folder, origin = default_data_dir(wanted.name, data_dir)
    kind = check_data_folder(folder, origin, wanted.name, must_exist=origin != "cache")
    status = inspect_folder(folder) if kind else None
    if origin == "cache" and (status is None or status.missing):
        if not download:
            raise DatasetError(f"{folder}: no data here. Run `fashionlab data fetch --release {wanted.name}`.")
        status = fetch(wanted, folder)
    arrays = read_split_arrays(status, use_cache=use_cache)
    found = status.release
    if found is None:
        warnings.warn(f"{folder}: {status.describe()}; results will name the release 'unknown'.", stacklevel=2)
        classes = wanted.classes
    elif found.classes != wanted.classes:
        raise DatasetError(
            f"{folder} holds {found.name}, but {wanted.name} was asked for. "
            f"Pass --data-dir pointing at a {wanted.name} folder, or unset FASHIONLAB_DATA."
        )
    else:
        classes = found.classes
    return Dataset(
        arrays["train_images"], arrays["train_labels"], arrays["test_images"], arrays["test_labels"],
        classes=classes, release=status.release_name, checksums=dict(status.md5), data_dir=folder,
        description=status.describe(), file_names=status.file_names,
    )
