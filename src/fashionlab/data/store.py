"""Find, verify, fetch and cache a release's files on disk.

Where data is looked for, in order: `--data-dir`, `$FASHIONLAB_DATA`, the user cache
`~/.cache/fashionlab/<release>` (`$FASHIONLAB_CACHE` moves the cache). Inside a folder the four
files may sit at the top (our layout, and Keras's `~/.keras/datasets/fashion-mnist/`) or under
torchvision's `FashionMNIST/raw/` (or `MNIST/raw/`, `raw/`); gzipped files are preferred, raw
IDX files are accepted.

Decoded arrays are cached as .npy files named by the md5 of the file they came from, and
memory-mapped on later loads: a changed file has another md5, so it can never hit a stale entry.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..fileio import atomic_open
from .download import download, md5_of
from .idx import IMAGES_MAGIC, LABELS_MAGIC, check_name_matches_compression, read_idx
from .releases import SPLIT_FILES, Release, closest, get_release, identify

SUBFOLDERS = ("", "FashionMNIST/raw", "MNIST/raw", "KMNIST/raw", "raw")


def cache_root() -> Path:
    env = os.environ.get("FASHIONLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "fashionlab"


def default_data_dir(release: str, data_dir: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The folder to use and where its name came from ('--data-dir', 'FASHIONLAB_DATA', 'cache')."""
    if data_dir is not None:
        return Path(data_dir).expanduser(), "--data-dir"
    env = os.environ.get("FASHIONLAB_DATA")
    if env:
        return Path(env).expanduser(), "FASHIONLAB_DATA"
    return cache_root() / release, "cache"


def locate_files(folder: Path) -> dict[str, Path | None]:
    """Map each split (train_images, ...) to its file in `folder`, or None when absent."""
    found: dict[str, Path | None] = {}
    for split, gz_name in SPLIT_FILES.items():
        found[split] = None
        for sub in SUBFOLDERS:
            base = folder / sub if sub else folder
            for name in (gz_name, gz_name[: -len(".gz")]):
                if (base / name).is_file():
                    found[split] = base / name
                    break
            if found[split] is not None:
                break
    return found


@dataclass
class FolderStatus:
    """What a data folder holds, by checksum."""

    folder: Path
    files: dict[str, Path | None]
    md5: dict[str, str] = field(default_factory=dict)  # gz file name -> md5 of the file found
    release: Release | None = None

    @property
    def missing(self) -> list[str]:
        return [SPLIT_FILES[s] for s, p in self.files.items() if p is None]

    @property
    def release_name(self) -> str:
        return self.release.name if self.release else "unknown"

    def describe(self) -> str:
        if self.missing:
            return f"incomplete: missing {', '.join(self.missing)}"
        if self.release:
            return f"{self.release.name}: {self.release.description}"
        near, count = closest(self.md5)
        if count:
            return f"unknown or modified copy ({count} of 4 files match {near.name})"
        return "unknown copy (no file matches a known release)"


def inspect_folder(folder: str | os.PathLike) -> FolderStatus:
    folder = Path(folder)
    files = locate_files(folder)
    status = FolderStatus(folder, files)
    for split, path in files.items():
        if path is not None:
            status.md5[SPLIT_FILES[split]] = md5_of(path)
    if not status.missing:
        status.release = identify(status.md5)
    return status


def fetch(release: str | Release, data_dir: str | os.PathLike | None = None, **download_options) -> FolderStatus:
    """Download the files of `release` that are missing from the data folder."""
    rel = get_release(release) if isinstance(release, str) else release
    folder, _ = default_data_dir(rel.name, data_dir)
    status = inspect_folder(folder) if folder.exists() else FolderStatus(folder, locate_files(folder))
    for split, path in status.files.items():
        name = SPLIT_FILES[split]
        if path is None:
            download(rel.urls(name), folder / name, rel.md5[name], **download_options)
    return inspect_folder(folder)


def _cached_array(path: Path, md5: str, magic: int) -> np.ndarray:
    """Decode `path` once, then memory-map the .npy named after its md5."""
    cache = cache_root() / "arrays" / f"{md5}.npy"
    with open(path, "rb") as fh:  # same content under a wrong name is still an error
        check_name_matches_compression(path, fh.read(2))
    if cache.is_file():
        try:
            return np.load(cache, mmap_mode="r")
        except (OSError, ValueError):
            pass  # a damaged cache entry: decode again and overwrite it
    array = read_idx(path, expect_magic=magic)
    try:
        with atomic_open(cache, "wb") as fh:
            np.save(fh, array)
    except OSError as exc:  # a read-only home must not stop training
        warnings.warn(f"could not write the array cache {cache}: {exc.strerror}", stacklevel=2)
    return array


def read_split_arrays(status: FolderStatus, use_cache: bool = True) -> dict[str, np.ndarray]:
    """The four arrays of a complete folder, validated for shape and agreement."""
    if status.missing:
        raise DatasetError(
            f"{status.folder}: missing {', '.join(status.missing)}. "
            "Run `fashionlab data fetch`, or point --data-dir / FASHIONLAB_DATA at a folder that has them."
        )
    arrays = {}
    for split, path in status.files.items():
        magic = IMAGES_MAGIC if split.endswith("images") else LABELS_MAGIC
        md5 = status.md5[SPLIT_FILES[split]]
        arrays[split] = _cached_array(path, md5, magic) if use_cache else read_idx(path, expect_magic=magic)
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.shape[0] != labels.shape[0]:
            raise DatasetError(
                f"{status.files[part + '_images']}: {images.shape[0]} images but "
                f"{status.files[part + '_labels']} holds {labels.shape[0]} labels; the counts must agree."
            )
        if images.shape[1:] != (28, 28):
            raise DatasetError(f"{status.files[part + '_images']}: images are {images.shape[1:]}, expected 28x28.")
        if labels.size and int(labels.max()) > 9:
            raise DatasetError(f"{status.files[part + '_labels']}: label {int(labels.max())} is outside 0-9.")
    return arrays
