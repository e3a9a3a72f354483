"""Load time of a release: first load from the .gz files, then from the decoded-array cache.

Run on purpose (`make bench` or `python benchmarks/load_time.py [--data-dir DIR]`); prints figures,
asserts nothing. Targets on the 2-core dev machine: first load <= 2 s, cached <= 0.2 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=os.environ.get("FASHIONLAB_DATA"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import numpy as np

    from fashionlab import load_dataset

    first, cached = [], []
    for _ in range(args.repeats):
        os.environ["FASHIONLAB_CACHE"] = tempfile.mkdtemp(prefix="fashionlab-bench-")  # a cold cache
        t0 = time.perf_counter()
        ds = load_dataset(data_dir=args.data_dir)
        first.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ds = load_dataset(data_dir=args.data_dir)
        np.asarray(ds.train_images).sum()  # touch every page of the memory map
        cached.append(time.perf_counter() - t0)
    print(f"release {ds.release}, {ds.train_images.shape[0] + ds.test_images.shape[0]:,} images, {args.repeats} repeats")
    print(f"first load (gunzip + decode + write cache): median {statistics.median(first):.3f} s, min {min(first):.3f} s")
    print(f"cached load (md5 + memory map, pages read): median {statistics.median(cached):.3f} s, min {min(cached):.3f} s")


if __name__ == "__main__":
    main()
