"""Training keeps glibc's heap for large tensors, and maps them again afterwards, as glibc's defaults do."""

import ctypes
import os

import pytest
import torch

from fashionlab.experiment import load_config
from fashionlab.host_memory import glibc, reuse_freed_memory
from fashionlab.training import train

LARGE = 64 << 20  # above glibc's largest mmap threshold (32 MiB): always a fresh mapping by default


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


@pytest.fixture
def mapped_bytes():
    """Bytes malloc holds in mmap'd blocks now (mallinfo2's hblkhd)."""
    libc = glibc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        pytest.skip("needs glibc 2.33 or later (mallinfo2)")
    if {"MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES", "LD_PRELOAD"} & set(os.environ):
        pytest.skip("malloc is tuned or replaced from the environment, so glibc's defaults are not in force")
    libc.mallinfo2.restype = _Mallinfo2
    return lambda: libc.mallinfo2().hblkhd


def _maps_a_large_tensor(mapped_bytes) -> bool:
    before = mapped_bytes()
    tensor = torch.empty(LARGE, dtype=torch.uint8)
    grew = mapped_bytes() - before >= LARGE
    del tensor
    return grew


def test_large_tensors_come_from_the_heap_inside_the_block_only(mapped_bytes):
    assert _maps_a_large_tensor(mapped_bytes)  # glibc's default: the probe does detect a mapping
    with reuse_freed_memory():
        assert not _maps_a_large_tensor(mapped_bytes)
    assert _maps_a_large_tensor(mapped_bytes)  # mapped again, as by glibc's defaults


def test_training_keeps_the_heap_during_the_run_and_maps_large_blocks_after_it(mapped_bytes, synthetic_dir, tmp_path):
    during = []
    config = load_config("ann-1", {"epochs": 2, "train_limit": 200, "device": "cpu"})
    train(config, tmp_path / "run", data_dir=synthetic_dir, progress=False, log=lambda s: None,
          on_epoch=lambda row: during.append(_maps_a_large_tensor(mapped_bytes)))
    assert during == [False, False]
    assert _maps_a_large_tensor(mapped_bytes)


def test_training_maps_large_blocks_again_after_a_failed_run(mapped_bytes, synthetic_dir, tmp_path):
    def fail(row):
        raise RuntimeError("stop here")

    config = load_config("ann-1", {"epochs": 2, "train_limit": 200, "device": "cpu"})
    with pytest.raises(RuntimeError, match="stop here"):
        train(config, tmp_path / "run", data_dir=synthetic_dir, progress=False, log=lambda s: None, on_epoch=fail)
    assert _maps_a_large_tensor(mapped_bytes)
