"""glibc's heap kept for the large, short-lived tensors of a CPU training step.

PyTorch's CPU tensors come from malloc. glibc serves each request above its mmap threshold (32 MiB
at most on 64-bit Linux) with a fresh mmap and unmaps it on free, so every step's large activations
and gradients are page-faulted and zeroed by the kernel again: `max`'s 96-channel 28x28 activations
at batch 256 are 38.5 MB in bf16. With mmap off and the heap's top kept, freed blocks are reused.
Only where memory comes from changes, never a number; what it bought is measured in
docs/results/glibc-heap-session16/.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys

# mallopt's parameters (malloc.h), and the values used while training and after it.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4
TRAINING = {M_MMAP_MAX: 0, M_TRIM_THRESHOLD: 1 << 30}
# By default glibc raises its mmap threshold to the size of the largest mapped block of at most 32 MiB
# freed so far, and keeps twice that at the heap's top. Once mallopt has set any of these, glibc no
# longer adjusts them for the rest of the process, so the run ends by setting them at the ceiling of
# that adjustment: blocks above 32 MiB are mapped, smaller ones come from the heap.
AFTER = {M_MMAP_MAX: 65536, M_MMAP_THRESHOLD: 32 << 20, M_TRIM_THRESHOLD: 64 << 20}


def glibc() -> ctypes.CDLL | None:
    """The process's C library if it is glibc (mallopt and malloc_trim are glibc's), else None."""
    if not sys.platform.startswith("linux"):  # CDLL(None) raises TypeError on Windows
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    glibc_functions = ("gnu_get_libc_version", "mallopt", "malloc_trim")  # absent from musl and macOS
    return libc if all(hasattr(libc, name) for name in glibc_functions) else None


@contextlib.contextmanager
def reuse_freed_memory():
    """Inside the block, malloc reuses freed heap memory instead of mapping large blocks afresh.

    This holds for the main thread, which trains; other threads' arenas still map blocks above their
    64 MiB heaps. The process keeps its peak resident through the run (one `max` epoch: 1.91 GB
    against 1.81 GB at the peak).

    Afterwards blocks above 32 MiB are mapped again, as glibc's adjusted defaults map them (AFTER),
    unless a block freed in the heap during the run holds them, and the kept memory's pages are
    returned to the system (malloc_trim), so a long-lived process (a notebook, a sweep worker) does
    not hold a run's peak. Elsewhere than glibc it does nothing.
    """
    libc = glibc()
    if libc is None:
        yield
        return
    for parameter, value in TRAINING.items():
        libc.mallopt(parameter, value)
    try:
        yield
    finally:
        for parameter, value in AFTER.items():
            libc.mallopt(parameter, value)
        libc.malloc_trim(0)
