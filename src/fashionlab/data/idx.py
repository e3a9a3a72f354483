"""Read and write IDX files (the MNIST family's format), gzipped or raw, with validation.

An IDX file is a 4-byte magic number (two zero bytes, a dtype code, the number of dimensions),
one big-endian uint32 per dimension, then the payload. Fashion-MNIST only uses dtype 0x08
(unsigned byte): labels are 1-d (magic 2049), images are 3-d (magic 2051). Everything that
can be wrong with such a file raises DatasetError naming the file and the problem.

Reads are bounded: the header is read and checked first, then exactly the payload it declares
plus one byte (to detect trailing data). A small .gz that inflates to gigabytes (a gzip bomb)
therefore costs no more memory than its header admits, and a header may admit at most
MAX_PAYLOAD_BYTES. A header is also checked against the file's length before anything is
allocated: a raw file must be exactly header + payload long, and a gzip file cannot inflate to
more than DEFLATE_MAX_RATIO times its size, so a 20-byte file declaring a gigabyte costs nothing.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import DatasetError
from ..fileio import atomic_write_bytes, entry_kind

GZIP_MAGIC = b"\x1f\x8b"
UBYTE = 0x08
LABELS_MAGIC = 0x00000801  # 2049: ubyte, 1 dimension
IMAGES_MAGIC = 0x00000803  # 2051: ubyte, 3 dimensions
# The largest payload a header may declare. The biggest MNIST-family file (EMNIST byclass
# images, 814,255 x 28 x 28) is about 640 MB; the releases fashionlab knows are under 50 MB.
MAX_PAYLOAD_BYTES = 1 << 30
# Deflate codes at most 258 bytes in 2 bits (zlib's documented limit: 1032:1), so a gzip file of
# n bytes holds at most 1032 * n bytes of content.
DEFLATE_MAX_RATIO = 1032
_REFETCH = "Delete the file and fetch it again (`fashionlab data fetch`)."


def check_name_matches_compression(path: Path, head: bytes) -> None:
    """A .gz name must hold gzip bytes (a mislabelled file means a broken download or copy)."""
    if path.suffix == ".gz" and head[:2] != GZIP_MAGIC:
        raise DatasetError(f"{path}: the name ends in .gz but the file is not gzip-compressed. {_REFETCH}")


def open_data_file(path: Path) -> BinaryIO:
    """Open a regular file for reading, or raise DatasetError saying what is there instead.

    Checked before opening: open() on a FIFO blocks until a writer appears, and a device never ends.
    """
    kind = entry_kind(path)
    if kind is None:
        raise DatasetError(f"{path}: file not found.")
    if kind != "a file":
        raise DatasetError(f"{path} is {kind}, not a data file. Put the IDX file there, or remove what is there.")
    try:
        return open(path, "rb")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the file ({exc.strerror}). Check its permissions.") from None


def _read_up_to(stream: BinaryIO, n: int) -> bytes:
    """Up to `n` bytes: fewer only at the end of the stream."""
    chunks, got = [], 0
    while got < n:
        block = stream.read(n - got)
        if not block:
            break
        chunks.append(block)
        got += len(block)
    return b"".join(chunks)


def _check_against_length(shape: tuple[int, ...], header_len: int, name: str, stored: int | None, gzipped: bool) -> None:
    """Refuse a header the file is too short (or, raw, too long) to satisfy, before any payload is read.

    `stored`: the file's length in bytes (None when unknown).
    """
    if stored is None:
        return
    needed = header_len + math.prod(shape)
    if gzipped:
        if needed > DEFLATE_MAX_RATIO * stored:
            raise DatasetError(
                f"{name}: truncated payload: the header declares shape {shape} ({needed - header_len:,} bytes), "
                f"but a {stored:,}-byte gzip file inflates to at most {DEFLATE_MAX_RATIO * stored:,}. {_REFETCH}"
            )
    elif needed > stored:
        raise DatasetError(
            f"{name}: truncated payload: the header declares shape {shape} ({needed - header_len:,} bytes) "
            f"but the file holds {max(stored - header_len, 0):,}. {_REFETCH}"
        )
    elif needed < stored:
        raise DatasetError(
            f"{name}: trailing bytes after the payload: the header declares shape {shape} "
            f"({needed - header_len:,} bytes) but the file holds {stored - header_len:,}. {_REFETCH}"
        )


def _read_header(stream: BinaryIO, name: str, expect_magic: int | None, stored: int | None = None,
                 gzipped: bool = False) -> tuple[tuple[int, ...], int]:
    """The declared shape and the header's length, after every check a header allows
    (against the file's length too, when `stored` gives it)."""
    head = _read_up_to(stream, 4)
    if len(head) < 4:
        raise DatasetError(f"{name}: truncated header ({len(head)} bytes, an IDX header needs at least 4).")
    zero, dtype_code, ndim = struct.unpack(">HBB", head)
    magic = struct.unpack(">I", head)[0]
    if zero != 0 or ndim == 0:
        raise DatasetError(f"{name}: not an IDX file (magic number {magic} is not of the form 0x0000TTDD).")
    if dtype_code != UBYTE:
        raise DatasetError(
            f"{name}: unsupported IDX dtype code 0x{dtype_code:02x}; Fashion-MNIST files hold unsigned bytes (0x08)."
        )
    if expect_magic is not None and magic != expect_magic:
        raise DatasetError(f"{name}: wrong magic number {magic}, expected {expect_magic}.")
    header_len = 4 + 4 * ndim
    dims = _read_up_to(stream, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise DatasetError(f"{name}: truncated header ({4 + len(dims)} bytes, {ndim} dimensions need {header_len}).")
    shape = struct.unpack(f">{ndim}I", dims)
    declared = math.prod(shape)  # a Python int: (2^22, 2^21, 2^21) must not wrap around in int64
    if declared > MAX_PAYLOAD_BYTES:
        raise DatasetError(
            f"{name}: the header declares shape {shape} ({declared:,} bytes), more than the "
            f"{MAX_PAYLOAD_BYTES:,} any MNIST-family file holds: the file is damaged or not a dataset file. {_REFETCH}"
        )
    _check_against_length(shape, header_len, name, stored, gzipped)
    return shape, header_len


def _read_idx_stream(stream: BinaryIO, name: str, expect_magic: int | None, stored: int | None = None,
                     gzipped: bool = False) -> np.ndarray:
    shape, _ = _read_header(stream, name, expect_magic, stored, gzipped)
    declared = math.prod(shape)
    # np.empty, not bytearray(declared): pages are committed as the payload arrives, so a stream
    # that ends early costs what it held, not what its header declared.
    buffer = np.empty(declared, dtype=np.uint8)
    view, got = memoryview(buffer), 0
    while got < declared:
        n = stream.readinto(view[got:])
        if not n:
            break
        got += n
    if got < declared:
        raise DatasetError(
            f"{name}: truncated payload: the header declares shape {shape} ({declared:,} bytes) "
            f"but the file holds {got:,}. {_REFETCH}"
        )
    if stream.read(1):  # one byte past the declared size, never the whole rest of the stream
        raise DatasetError(
            f"{name}: trailing bytes after the payload: the header declares shape {shape} ({declared:,} bytes) "
            f"but the file holds more. {_REFETCH}"
        )
    try:
        array = buffer.reshape(shape)
    except ValueError:  # more dimensions than numpy supports
        raise DatasetError(f"{name}: {len(shape)} dimensions; an IDX file of images or labels has 1 to 3.") from None
    array.flags.writeable = False
    return array


def _with_stream(path: Path, read):
    """Call `read(stream, stored, gzipped)` on the decompressed content of `path` (`stored`: the
    file's length), mapping gzip failures to DatasetError."""
    with open_data_file(path) as raw:
        try:
            head = raw.read(2)
            raw.seek(0)
            stored = os.fstat(raw.fileno()).st_size
        except OSError as exc:
            raise DatasetError(f"{path}: cannot read the file ({exc.strerror}).") from None
        check_name_matches_compression(path, head)
        if head != GZIP_MAGIC:
            try:
                return read(raw, stored, False)
            except OSError as exc:
                raise DatasetError(f"{path}: cannot read the file ({exc.strerror}).") from None
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                return read(stream, stored, True)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(f"{path}: the gzip stream is corrupt or truncated ({exc}). {_REFETCH}") from None


def read_idx_shape(path: str | os.PathLike, expect_magic: int | None = None) -> tuple[int, ...]:
    """The shape an IDX file's header declares, reading only the header (checked as read_idx does)."""
    path = Path(path)
    return _with_stream(path, lambda stream, stored, gz: _read_header(stream, str(path), expect_magic, stored, gz)[0])


def parse_idx(data: bytes, source: str | os.PathLike = "<bytes>", expect_magic: int | None = None) -> np.ndarray:
    """Decode the bytes of an (uncompressed) IDX file into a read-only uint8 array."""
    return _read_idx_stream(io.BytesIO(data), str(source), expect_magic, len(data))


def read_idx(path: str | os.PathLike, expect_magic: int | None = None) -> np.ndarray:
    """Read a gzipped or raw IDX file into a read-only uint8 array, with bounded reads."""
    path = Path(path)
    return _with_stream(path, lambda stream, stored, gz: _read_idx_stream(stream, str(path), expect_magic, stored, gz))


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
