import gzip
import struct

import numpy as np
import pytest

from fashionlab.data.idx import IMAGES_MAGIC, LABELS_MAGIC, encode_idx, read_idx, read_idx_shape, write_idx
from fashionlab.errors import DatasetError


def test_roundtrip_gzip_and_raw(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    for name in ("x.gz", "x"):
        write_idx(tmp_path / name, images)
        back = read_idx(tmp_path / name, expect_magic=IMAGES_MAGIC)
        assert back.shape == (2, 28, 28)
        np.testing.assert_array_equal(back, images)
    assert (tmp_path / "x.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert struct.unpack(">I", (tmp_path / "x").read_bytes()[:4])[0] == IMAGES_MAGIC


def test_labels_magic_is_2049(tmp_path):
    write_idx(tmp_path / "y.gz", np.array([1, 2, 3], dtype=np.uint8))
    assert read_idx(tmp_path / "y.gz", expect_magic=LABELS_MAGIC).tolist() == [1, 2, 3]
    with pytest.raises(DatasetError, match="wrong magic number 2049, expected 2051"):
        read_idx(tmp_path / "y.gz", expect_magic=IMAGES_MAGIC)


def _bad(tmp_path, data: bytes, gz=True):
    path = tmp_path / ("bad.gz" if gz else "bad")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


GOOD = encode_idx(np.zeros((3, 28, 28), dtype=np.uint8))


@pytest.mark.parametrize(
    "data, message",
    [
        (GOOD[:2], "truncated header"),
        (GOOD[:10], "truncated header"),
        (GOOD[:-5], "truncated payload"),
        (GOOD + b"\0", "trailing bytes"),
        (b"\x00\x00\x0c\x03" + GOOD[4:], "dtype code 0x0c"),
        (b"\x12\x34\x08\x03" + GOOD[4:], "not an IDX file"),
        (b"garbage bytes that are not idx at all", "not an IDX file"),
    ],
)
def test_corruptions_raise_dataset_error_naming_the_file(tmp_path, data, message):
    path = _bad(tmp_path, data)
    with pytest.raises(DatasetError, match=message) as info:
        read_idx(path, expect_magic=IMAGES_MAGIC)
    assert str(path) in str(info.value)


def test_not_gzip_despite_the_name(tmp_path):
    path = _bad(tmp_path, GOOD, gz=False)
    path = path.rename(tmp_path / "x.gz")
    with pytest.raises(DatasetError, match="not gzip-compressed"):
        read_idx(path)


def test_truncated_gzip_stream(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(GOOD)[:-20])
    with pytest.raises(DatasetError, match="gzip stream is corrupt or truncated"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="file not found"):
        read_idx(tmp_path / "nope.gz")


# ---------------------------------------------------------------- hostile files

def _gzip_bomb(path, header: bytes, inflated: int, chunk=1 << 20):
    """A .gz whose content is `header` then `inflated` zero bytes, compressed chunk by chunk
    so that the test itself never holds more than `chunk` bytes."""
    zeros = bytes(chunk)
    with gzip.GzipFile(path, "wb", compresslevel=1, mtime=0) as fh:
        fh.write(header)
        for _ in range(inflated // chunk):
            fh.write(zeros)
    return path


def _peak_memory(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        try:
            fn()
        finally:
            peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak


def test_gzip_bomb_behind_a_valid_header_is_read_only_to_the_declared_size(tmp_path):
    # Declares 3 images (2,352 bytes) and inflates to 256 MiB: read 2,353 bytes of it, then stop.
    header = struct.pack(">I3I", IMAGES_MAGIC, 3, 28, 28)
    bomb = _gzip_bomb(tmp_path / "bomb.gz", header, 256 << 20)
    assert bomb.stat().st_size < 2 << 20
    caught = []

    def read():
        with pytest.raises(DatasetError, match="trailing bytes") as info:
            read_idx(bomb, expect_magic=IMAGES_MAGIC)
        caught.append(str(info.value))

    assert _peak_memory(read) < 16 << 20
    assert str(bomb) in caught[0]


def test_header_declaring_more_than_any_dataset_file_is_refused_before_reading(tmp_path):
    header = struct.pack(">I3I", IMAGES_MAGIC, 1 << 22, 1 << 21, 1 << 21)  # 2^64 bytes: wraps to 0 in int64
    for name, data in (("huge", header), ("huge.gz", gzip.compress(header)), ("huge-bomb.gz", None)):
        path = tmp_path / name
        if data is None:
            _gzip_bomb(path, struct.pack(">I3I", IMAGES_MAGIC, 1 << 21, 28, 28), 64 << 20)  # 1.6 GB declared
        else:
            path.write_bytes(data)
        with pytest.raises(DatasetError, match="declares shape") as info:
            assert _peak_memory(lambda: read_idx(path, expect_magic=IMAGES_MAGIC)) < 16 << 20
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_too_many_dimensions_is_a_dataset_error(tmp_path):
    path = tmp_path / "dims"
    path.write_bytes(b"\x00\x00\x08\xff" + struct.pack(">255I", *[1] * 255) + b"\x07")  # numpy allows 32 or 64
    with pytest.raises(DatasetError, match=str(path)):
        read_idx(path)


def test_read_idx_shape_reads_the_header_only(tmp_path):
    header = struct.pack(">I3I", IMAGES_MAGIC, 3, 28, 28)
    bomb = _gzip_bomb(tmp_path / "bomb.gz", header, 64 << 20)
    assert _peak_memory(lambda: read_idx_shape(bomb, IMAGES_MAGIC)) < 4 << 20
    assert read_idx_shape(bomb, IMAGES_MAGIC) == (3, 28, 28)


def test_result_is_read_only(tmp_path):
    write_idx(tmp_path / "x.gz", np.zeros((2, 28, 28), dtype=np.uint8))
    assert not read_idx(tmp_path / "x.gz").flags.writeable


def test_a_directory_or_fifo_is_named_for_what_it_is(tmp_path):
    import os

    folder = tmp_path / "dir.gz"
    folder.mkdir()
    with pytest.raises(DatasetError, match="is a directory, not a data file"):
        read_idx(folder)
    fifo = tmp_path / "fifo.gz"
    os.mkfifo(fifo)  # opening it would block until a writer comes: it must not be opened
    with pytest.raises(DatasetError, match=r"is a named pipe \(FIFO\), not a data file"):
        read_idx(fifo)
    with pytest.raises(DatasetError, match="named pipe"):
        read_idx_shape(fifo)


def test_unreadable_file_is_a_dataset_error(tmp_path, monkeypatch):
    import fashionlab.data.idx as idx

    path = write_idx(tmp_path / "x.gz", np.zeros(3, dtype=np.uint8))

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(idx, "open", denied, raising=False)
    with pytest.raises(DatasetError, match=r"cannot read the file \(Permission denied\)") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_unreadable_file_chmod(tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads a chmod 000 file anyway (the monkeypatched test covers the code path)")
    path = write_idx(tmp_path / "x.gz", np.zeros(3, dtype=np.uint8))
    path.chmod(0)
    with pytest.raises(DatasetError, match="Permission denied"):
        read_idx(path)


# A header under the 1 GiB limit, in a file far too short for it: 1,300,000 images, 1,019,200,000 bytes.
SHORT_OF_A_GIGABYTE = struct.pack(">I3I", IMAGES_MAGIC, 1_300_000, 28, 28)


@pytest.mark.parametrize("name", ["big", "big.gz"])
def test_a_header_the_file_is_too_short_for_is_refused_before_reading(tmp_path, name):
    path = tmp_path / name
    data = SHORT_OF_A_GIGABYTE + bytes(100)
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    words = "inflates to at most" if name.endswith(".gz") else "but the file holds 100"
    # The header alone settles it: read_idx_shape reads nothing else, and read_idx allocates nothing.
    with pytest.raises(DatasetError, match=f"truncated payload: .*{words}"):
        read_idx_shape(path, IMAGES_MAGIC)
    caught = []

    def read():
        with pytest.raises(DatasetError, match="truncated payload") as info:
            read_idx(path, IMAGES_MAGIC)
        caught.append(str(info.value))

    assert _peak_memory(read) < 1 << 20
    assert str(path) in caught[0] and "\n" not in caught[0]


def test_a_raw_file_longer_than_its_header_declares_is_refused_from_the_header(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(GOOD + b"\0")
    with pytest.raises(DatasetError, match="trailing bytes after the payload"):
        read_idx_shape(path, IMAGES_MAGIC)


def test_a_short_gzip_stream_costs_what_it_holds_not_what_it_declares(tmp_path):
    """1 MiB of random bytes behind a header declaring 1 GB: within deflate's 1032:1 bound, so only
    reading finds the stream short. The buffer's pages are committed as data arrives (measured in a
    child process: tracemalloc counts an allocation whole, used or not)."""
    import os
    import subprocess
    import sys

    path = tmp_path / "short.gz"
    with gzip.GzipFile(path, "wb", compresslevel=1, mtime=0) as fh:
        fh.write(SHORT_OF_A_GIGABYTE)
        fh.write(np.random.default_rng(0).bytes(1 << 20))
    if not os.path.exists("/proc/self/status"):
        pytest.skip("measures the peak resident memory in /proc/self/status (Linux)")
    # VmHWM, not getrusage's ru_maxrss: the latter keeps the parent's peak across fork and exec.
    child = (
        "import re, sys\n"
        "from fashionlab.data.idx import read_idx\n"
        "from fashionlab.errors import DatasetError\n"
        "try:\n"
        "    read_idx(sys.argv[1])\n"
        "except DatasetError as exc:\n"
        "    print(exc)\n"
        "print(re.search(r'VmHWM:\\s*(\\d+) kB', open('/proc/self/status').read()).group(1))\n"
    )
    proc = subprocess.run([sys.executable, "-c", child, str(path)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    message, peak_kib = proc.stdout.strip().splitlines()
    assert "truncated payload" in message and "holds 1,048,576" in message
    assert int(peak_kib) < 300 * 1024  # numpy and the interpreter take ~40 MB; the declared gigabyte is not touched
