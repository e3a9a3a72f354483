"""Read and write IDX files (the MNIST family's format), gzipped or raw, with validation.

An IDX file is a 4-byte magic number (two zero bytes, a dtype code, the number of dimensions),
one big-endian uint32 per dimension, then the payload. Fashion-MNIST only uses dtype 0x08
(unsigned byte): labels are 1-d (magic 2049), images are 3-d (magic 2051). Everything that
can be wrong with such a file raises DatasetError naming the file and the problem.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..fileio import atomic_write_bytes

GZIP_MAGIC = b"\x1f\x8b"
UBYTE = 0x08
LABELS_MAGIC = 0x00000801  # 2049: ubyte, 1 dimension
IMAGES_MAGIC = 0x00000803  # 2051: ubyte, 3 dimensions


def check_name_matches_compression(path: Path, head: bytes) -> None:
    """A .gz name must hold gzip bytes (a mislabelled file means a broken download or copy)."""
    if path.suffix == ".gz" and head[:2] != GZIP_MAGIC:
        raise DatasetError(
            f"{path}: the name ends in .gz but the file is not gzip-compressed. "
            "Delete the file and fetch it again (`fashionlab data fetch`)."
        )


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found.") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the file ({exc.strerror}).") from None
    check_name_matches_compression(path, raw)
    if raw[:2] == GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(
                f"{path}: the gzip stream is corrupt or truncated ({exc}). "
                "Delete the file and fetch it again (`fashionlab data fetch`)."
            ) from None
    return raw


def parse_idx(data: bytes, source: str | os.PathLike = "<bytes>", expect_magic: int | None = None) -> np.ndarray:
    """Decode the bytes of an (uncompressed) IDX file into a uint8 array."""
    name = str(source)
    if len(data) < 4:
        raise DatasetError(f"{name}: truncated header ({len(data)} bytes, an IDX header needs at least 4).")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    magic = struct.unpack(">I", data[:4])[0]
    if zero != 0 or ndim == 0:
        raise DatasetError(f"{name}: not an IDX file (magic number {magic} is not of the form 0x0000TTDD).")
    if dtype_code != UBYTE:
        raise DatasetError(
            f"{name}: unsupported IDX dtype code 0x{dtype_code:02x}; Fashion-MNIST files hold unsigned bytes (0x08)."
        )
    if expect_magic is not None and magic != expect_magic:
        raise DatasetError(f"{name}: wrong magic number {magic}, expected {expect_magic}.")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DatasetError(
            f"{name}: truncated header ({len(data)} bytes, {ndim} dimensions need {header_len})."
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_len])
    expected = int(np.prod(shape, dtype=np.int64))
    payload = len(data) - header_len
    if payload != expected:
        problem = "truncated payload" if payload < expected else "trailing bytes after the payload"
        raise DatasetError(
            f"{name}: {problem}: the header declares shape {tuple(shape)} ({expected} bytes) "
            f"but the file holds {payload}. Delete the file and fetch it again."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(shape)


def read_idx(path: str | os.PathLike, expect_magic: int | None = None) -> np.ndarray:
    """Read a gzipped or raw IDX file. The returned array is read-only (it views the file bytes)."""
    path = Path(path)
    return parse_idx(_read_bytes(path), path, expect_magic)


def encode_idx(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"IDX writer supports uint8 arrays only, got {array.dtype}")
    header = struct.pack(">HBB", 0, UBYTE, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write `array` as an IDX file, gzipped when `compress` (default: when the name ends in .gz)."""
    path = Path(path)
    data = encode_idx(array)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        # mtime=0 makes the bytes (and so the md5) depend on the content only.
        data = gzip.compress(data, mtime=0)
    atomic_write_bytes(path, data)
    return path
