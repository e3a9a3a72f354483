import gzip
import struct

import numpy as np
import pytest

from fashionlab.data.idx import IMAGES_MAGIC, LABELS_MAGIC, encode_idx, read_idx, write_idx
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
