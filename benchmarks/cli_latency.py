"""How long the everyday commands take that should answer at once: `models list`, `runs` on N runs,
`import fashionlab`. Each is timed in a fresh process (interpreter start included), median of
--repeats.

Run on purpose (`python benchmarks/cli_latency.py [--runs 500]`); prints figures, asserts nothing.
The runs are copies of the committed full-length results (docs/results/paper-full-length), only
the three small files `fashionlab runs` reads, in groups of 50 folders.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results" / "paper-full-length"


def seconds(argv: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    sources = sorted(p for p in RESULTS.iterdir() if (p / "metrics.json").is_file())
    with tempfile.TemporaryDirectory(prefix="fashionlab-runs-") as root:
        for i in range(args.runs):
            target = Path(root) / f"group-{i // 50}" / f"run-{i:04d}"
            target.mkdir(parents=True)
            for name in ("config.toml", "environment.json", "metrics.json"):
                shutil.copy(sources[i % len(sources)] / name, target / name)
        cli = [sys.executable, "-m", "fashionlab"]
        print(f"python -c 'import fashionlab': {seconds([sys.executable, '-c', 'import fashionlab'], args.repeats):.2f} s")
        print(f"fashionlab models list:        {seconds([*cli, 'models', 'list'], args.repeats):.2f} s")
        print(f"fashionlab runs ({args.runs} runs):     {seconds([*cli, 'runs', root], args.repeats):.2f} s")


if __name__ == "__main__":
    main()
