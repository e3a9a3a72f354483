"""Find, verify, fetch and cache a release's files on disk.

Where data is looked for, in order: `--data-dir`, `$FASHIONLAB_DATA`, the user cache
`~/.cache/fashionlab/<release>` (`$FASHIONLAB_CACHE` moves the cache). Inside a folder the four
files may sit at the top (our layout, and Keras's `~/.keras/datasets/fashion-mnist/`) or under
torchvision's `FashionMNIST/raw/` (or `MNIST/raw/`, `raw/`); gzipped files are preferred, raw
IDX files are accepted.

Decoded arrays are cached as .npy files named by the md5 of the file they came from, and
memory-mapped on later loads: a changed file has another md5, so it can never hit a stale entry.
An entry is still checked when read (dtype, the shape the file's header declares, label range):
a damaged or tampered one is rebuilt from the file, with a warning.

Every header is read and checked (magic, 28x28 images, at least one image, counts that agree)
before any payload is decompressed.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..fileio import WriteFailure, atomic_open, entry_kind
from .download import download, md5_of
from .idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx, read_idx_shape
from .releases import SPLIT_FILES, Release, closest, get_release, identify, releases_with_raw_checksums

SUBFOLDERS = ("", "FashionMNIST/raw", "MNIST/raw", "KMNIST/raw", "raw")


def _expand(path: str | os.PathLike, origin: str) -> Path:
    try:
        return Path(path).expanduser()
    except RuntimeError:  # ~user that does not exist, or no home directory at all
        raise DatasetError(f"{origin}: cannot expand {str(path)!r} (no such user or home directory). Give a full path.") from None


def cache_root() -> Path:
    env = os.environ.get("FASHIONLAB_CACHE")
    if env:
        return _expand(env, "FASHIONLAB_CACHE")
    return _expand("~", "the user cache (set FASHIONLAB_CACHE)") / ".cache" / "fashionlab"


def default_data_dir(release: str, data_dir: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The folder to use and where its name came from ('--data-dir', 'FASHIONLAB_DATA', 'cache')."""
    if data_dir is not None:
        return _expand(data_dir, "--data-dir"), "--data-dir"
    env = os.environ.get("FASHIONLAB_DATA")
    if env:
        return _expand(env, "FASHIONLAB_DATA"), "FASHIONLAB_DATA"
    return cache_root() / release, "cache"


def check_data_folder(folder: Path, origin: str, release: str, must_exist: bool = True) -> str | None:
    """What is at `folder` ('a directory', or None when nothing is and `must_exist` is False), or a
    DatasetError saying what is wrong: nothing there, or a file (or other non-folder) in its place."""
    kind = entry_kind(folder)
    if kind is None and must_exist:
        fix = (f"run `fashionlab data fetch --release {release}` to download the files" if origin == "cache" else
               f"point {origin} at the folder holding the IDX files, or download them there with "
               f"`fashionlab data fetch --release {release} --data-dir {folder}`")
        raise DatasetError(f"{folder} (from {origin}) does not exist: {fix}.")
    if kind not in (None, "a directory"):
        fix = "remove it, or set FASHIONLAB_CACHE elsewhere" if origin == "cache" else \
              f"point {origin} at the folder holding the IDX files"
        raise DatasetError(f"{folder} (from {origin}) is {kind}, not a folder: {fix}.")
    return kind


def _candidates(folder: Path, gz_name: str):
    for sub in SUBFOLDERS:
        base = folder / sub if sub else folder
        for name in (gz_name, gz_name[: -len(".gz")]):
            yield base / name


def locate_files(folder: Path) -> dict[str, Path | None]:
    """Map each split (train_images, ...) to its regular file in `folder`, or None when absent."""
    found: dict[str, Path | None] = {}
    for split, gz_name in SPLIT_FILES.items():
        found[split] = next((p for p in _candidates(folder, gz_name) if entry_kind(p) == "a file"), None)
    return found


UNSEARCHABLE = "a folder that cannot be searched (no execute permission)"


def _unsearchable_parent(path: Path) -> Path:
    """The first folder on the way to `path` whose entries cannot be looked up (chmod -x)."""
    for parent in reversed(path.parents):
        try:
            os.stat(os.path.join(parent, "."))  # resolving a name inside `parent` needs search permission on it
        except PermissionError:
            return parent
        except OSError:
            break
    return path.parent


def locate_obstacles(folder: Path) -> dict[str, str]:
    """Paths where a data file belongs but something else is (a directory, FIFO, device...): path -> what.
    A folder that cannot be searched is listed once, in place of the files it hides."""
    obstacles = {}
    for gz_name in SPLIT_FILES.values():
        for path in _candidates(folder, gz_name):
            kind = entry_kind(path)
            if kind == "in a folder that cannot be searched (permission denied)":
                obstacles[str(_unsearchable_parent(path))] = UNSEARCHABLE
            elif kind not in (None, "a file"):
                obstacles[str(path)] = kind
    return obstacles


@dataclass
class FolderStatus:
    """What a data folder holds, by checksum."""

    folder: Path
    files: dict[str, Path | None]
    # The split's standard (.gz) file name -> md5 of the file found for it, gzipped or uncompressed:
    # the stable key runs record and compare. `found_md5` keys the same md5s by the names on disk.
    md5: dict[str, str] = field(default_factory=dict)
    release: Release | None = None
    obstacles: dict[str, str] = field(default_factory=dict)  # path -> what is there instead of a file

    @property
    def file_names(self) -> dict[str, str]:
        """Standard (.gz) name -> the name of the file found for that split (the same, or uncompressed)."""
        return {SPLIT_FILES[s]: p.name for s, p in self.files.items() if p is not None}

    @property
    def found_md5(self) -> dict[str, str]:
        """Name of each file found -> its md5."""
        return {self.file_names[name]: md5 for name, md5 in self.md5.items()}

    @property
    def missing(self) -> list[str]:
        return [SPLIT_FILES[s] for s, p in self.files.items() if p is None]

    def missing_text(self) -> str:
        """'missing a, b', and what stands where a missing file belongs."""
        text = f"missing {', '.join(self.missing)}"
        names = set(self.missing) | {n[: -len(".gz")] for n in self.missing}
        there = [f"{p} is {kind}" + ("" if kind == UNSEARCHABLE else ", not a file")
                 for p, kind in self.obstacles.items() if Path(p).name in names or kind == UNSEARCHABLE]
        return text + (f" ({'; '.join(there)})" if there else "")

    @property
    def release_name(self) -> str:
        return self.release.name if self.release else "unknown"

    def describe(self) -> str:
        if self.missing:
            return f"incomplete: {self.missing_text()}"
        if self.release:
            return f"{self.release.name}: {self.release.description}"
        near, count = closest(self.found_md5)
        if count:
            return f"unknown or modified copy ({count} of 4 files match {near.name})"
        if any(not name.endswith(".gz") for name in self.found_md5):
            return ("unknown copy (no file matches a known release; uncompressed files are known only for "
                    f"{', '.join(releases_with_raw_checksums())})")
        return "unknown copy (no file matches a known release)"


def _checksum(path: Path) -> str:
    try:
        return md5_of(path)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the file ({exc.strerror}). Check its permissions.") from None


def inspect_folder(folder: str | os.PathLike) -> FolderStatus:
    folder = Path(folder)
    try:
        os.listdir(folder)
        os.stat(os.path.join(folder, "."))  # listing needs read permission, opening its files search (x) permission
    except FileNotFoundError:
        pass  # reported as missing files by the caller
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot read the folder ({exc.strerror}). Check its permissions "
                           f"(`chmod u+rx {folder}`).") from None
    files = locate_files(folder)
    status = FolderStatus(folder, files, obstacles=locate_obstacles(folder))
    for split, path in files.items():
        if path is not None:
            status.md5[SPLIT_FILES[split]] = _checksum(path)
    if not status.missing:
        status.release = identify(status.found_md5)
    return status


def fetch(release: str | Release, data_dir: str | os.PathLike | None = None, **download_options) -> FolderStatus:
    """Download the files of `release` that are missing from the data folder."""
    rel = get_release(release) if isinstance(release, str) else release
    folder, _ = default_data_dir(rel.name, data_dir)
    kind = entry_kind(folder)
    if kind not in (None, "a directory"):
        raise DatasetError(f"{folder} is {kind}, not a folder. Point --data-dir or FASHIONLAB_DATA elsewhere.")
    status = inspect_folder(folder) if kind else FolderStatus(folder, locate_files(folder))
    for split, path in status.files.items():
        name = SPLIT_FILES[split]
        if path is None:
            dest = folder / name
            if str(dest) in status.obstacles:
                raise DatasetError(f"{dest} is {status.obstacles[str(dest)]}, not a file, so it cannot be downloaded "
                                   "there. Remove it and fetch again.")
            download(rel.urls(name), dest, rel.md5[name], **download_options)
    return inspect_folder(folder)


def _cache_problem(array, shape: tuple[int, ...], labels: bool) -> str | None:
    """Why a cache entry cannot stand for a file whose header declares `shape`; None if it can."""
    if array.dtype != np.uint8:
        return f"holds dtype {array.dtype}, not uint8"
    if array.shape != tuple(shape):
        return f"holds shape {array.shape}, but the file declares {tuple(shape)}"
    if labels and array.size and int(array.max()) > 9:
        return f"holds label {int(array.max())}, outside 0-9"
    return None


def _cached_array(path: Path, md5: str, magic: int, shape: tuple[int, ...]) -> np.ndarray:
    """Decode `path` once, then memory-map the .npy named after its md5 (checked against `shape`)."""
    cache = cache_root() / "arrays" / f"{md5}.npy"
    if entry_kind(cache) == "a file":
        try:
            array = np.load(cache, mmap_mode="r")  # no pickles: allow_pickle is False
            problem = _cache_problem(array, shape, labels=magic == LABELS_MAGIC)
        except (OSError, ValueError, EOFError):
            problem = "cannot be read"
        if problem is None:
            return array
        warnings.warn(f"the array cache {cache} {problem}; rebuilt it from {path}", stacklevel=3)
    array = read_idx(path, expect_magic=magic)
    try:
        with atomic_open(cache, "wb") as fh:
            np.save(fh, array)
    except (OSError, WriteFailure) as exc:  # a read-only home or a full disk must not stop training
        warnings.warn(f"could not write the array cache {cache}: {getattr(exc, 'reason', None) or exc.strerror}",
                      stacklevel=3)
    return array


def read_split_shapes(status: FolderStatus) -> dict[str, tuple[int, ...]]:
    """Every file's declared shape, checked (28x28 images, at least one, counts that agree) from headers only."""
    shapes = {}
    for split, path in status.files.items():
        shapes[split] = read_idx_shape(path, IMAGES_MAGIC if split.endswith("images") else LABELS_MAGIC)
    for part in ("train", "test"):
        images_path, labels_path = status.files[f"{part}_images"], status.files[f"{part}_labels"]
        images, labels = shapes[f"{part}_images"], shapes[f"{part}_labels"]
        if images[1:] != (28, 28):
            raise DatasetError(f"{images_path}: images are {images[1:]}, expected 28x28.")
        if images[0] == 0:
            raise DatasetError(
                f"{images_path}: holds 0 images; the {part} set needs at least one. "
                "Delete the file and fetch it again (`fashionlab data fetch`), or point --data-dir at a complete copy."
            )
        if images[0] != labels[0]:
            raise DatasetError(
                f"{images_path}: {images[0]} images but {labels_path} holds {labels[0]} labels; the counts must agree."
            )
    return shapes


def read_split_arrays(status: FolderStatus, use_cache: bool = True) -> dict[str, np.ndarray]:
    """The four arrays of a complete folder, validated for shape and agreement."""
    if status.missing:
        raise DatasetError(
            f"{status.folder}: {status.missing_text()}. "
            "Run `fashionlab data fetch`, or point --data-dir / FASHIONLAB_DATA at a folder that has them."
        )
    shapes = read_split_shapes(status)
    arrays = {}
    for split, path in status.files.items():
        magic = IMAGES_MAGIC if split.endswith("images") else LABELS_MAGIC
        md5 = status.md5[SPLIT_FILES[split]]
        arrays[split] = (_cached_array(path, md5, magic, shapes[split]) if use_cache
                         else read_idx(path, expect_magic=magic))
    for part in ("train", "test"):
        labels = arrays[f"{part}_labels"]
        if labels.size and int(labels.max()) > 9:
            raise DatasetError(f"{status.files[part + '_labels']}: label {int(labels.max())} is outside 0-9.")
    return arrays
