"""Training keeps glibc's heap for large tensors, and maps them again afterwards, as glibc's defaults do."""

import ctypes
import os

import pytest
import torch

from fashionlab.experiment import load_config
from fashionlab.host_memory import glibc, reuse_freed_memory
from fashionlab.training import train

LARGE = 64 << 20  # above glibc's largest mmap threshold (32 MiB): always a fresh mapping by default
SHORT_RUN = {"epochs": 2, "train_limit": 200, "device": "cpu"}


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


@pytest.fixture
def mallinfo():
    """glibc's malloc statistics now (mallinfo2): `hblkhd` bytes in mapped blocks, `fordblks` free in the heap."""
    libc = glibc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        pytest.skip("needs glibc 2.33 or later (mallinfo2)")
    if {"MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES", "LD_PRELOAD"} & set(os.environ):
        pytest.skip("malloc is tuned or replaced from the environment, so glibc's defaults are not in force")
    libc.mallinfo2.restype = _Mallinfo2
    return libc.mallinfo2


def _maps_a_large_tensor(mallinfo) -> bool:
    """Whether malloc maps a block afresh for a tensor larger than all the heap's free memory (so that
    no block freed earlier in this process, by a training run say, can hold it)."""
    before = mallinfo()
    size = before.fordblks + LARGE
    tensor = torch.empty(size, dtype=torch.uint8)  # untouched: no page is written
    grew = mallinfo().hblkhd - before.hblkhd >= size
    del tensor
    return grew


def test_large_tensors_come_from_the_heap_inside_the_block_only(mallinfo):
    assert _maps_a_large_tensor(mallinfo)  # glibc's default: the probe does detect a mapping
    with reuse_freed_memory():
        assert not _maps_a_large_tensor(mallinfo)
    assert _maps_a_large_tensor(mallinfo)  # mapped again, as by glibc's defaults


def test_training_keeps_the_heap_during_the_run_and_maps_large_blocks_after_it(mallinfo, synthetic_dir, tmp_path):
    during = []
    config = load_config("ann-1", SHORT_RUN)
    train(config, tmp_path / "run", data_dir=synthetic_dir, progress=False, log=lambda s: None,
          on_epoch=lambda row: during.append(_maps_a_large_tensor(mallinfo)))
    assert during == [False, False]
    assert _maps_a_large_tensor(mallinfo)


def test_training_maps_large_blocks_again_after_a_failed_run(mallinfo, synthetic_dir, tmp_path):
    def fail(row):
        raise RuntimeError("stop here")

    config = load_config("ann-1", SHORT_RUN)
    with pytest.raises(RuntimeError, match="stop here"):
        train(config, tmp_path / "run", data_dir=synthetic_dir, progress=False, log=lambda s: None, on_epoch=fail)
    assert _maps_a_large_tensor(mallinfo)
