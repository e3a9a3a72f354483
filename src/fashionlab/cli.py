"""Command-line interface: argument parsing and printing only; the work is in the API modules.

Exit codes: 0 success; 2 usage or input error (one paragraph naming the file or flag and the
fix, no traceback); 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from . import __version__
from .errors import UserError


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder holding the IDX files (default: $FASHIONLAB_DATA, else the user cache)")


def _add_release(p: argparse.ArgumentParser, default: str | None = "fashion-mnist") -> None:
    from .data.releases import RELEASES

    p.add_argument("--release", default=default, choices=list(RELEASES), help="dataset release (default: %(default)s)")


# ---------------------------------------------------------------- data


def cmd_data_info(args) -> int:
    from .data import RELEASES, load_dataset
    from .data.store import default_data_dir

    _, origin = default_data_dir(args.release, args.data_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the status line below says the same thing
        dataset = load_dataset(args.release, args.data_dir, download=False)
    info = dataset.summary()
    info["origin"] = origin
    info["status"] = dataset.description
    expected = RELEASES[dataset.release].md5 if dataset.release in RELEASES else None
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"folder:   {dataset.data_dir}  (from {origin})")
    print(f"release:  {dataset.description}")
    print("files:")
    for name, md5 in info["checksums"].items():
        mark = "ok" if expected and expected.get(name) == md5 else "no known checksum"
        print(f"  {name:<28} md5 {md5}  {mark}")
    for split, data in info["splits"].items():
        counts = ", ".join(f"{k} {v}" for k, v in data["per_class"].items())
        print(f"{split}: {data['count']:,} images ({counts})")
    return 0


def cmd_data_fetch(args) -> int:
    from .data.store import fetch

    status = fetch(args.release, args.data_dir, progress=not args.quiet)
    print(f"{status.folder}: {status.describe()}")
    return 0


def cmd_data_verify(args) -> int:
    from .data.releases import closest, get_release
    from .data.store import default_data_dir, inspect_folder, read_split_arrays

    folder, origin = default_data_dir(args.release or "fashion-mnist", args.data_dir)
    if not folder.is_dir():
        raise UserError(f"{folder} (from {origin}) is not a folder.")
    status = inspect_folder(folder)
    read_split_arrays(status, use_cache=False)  # every file decodes and the counts agree
    target = get_release(args.release) if args.release else (status.release or closest(status.md5)[0])
    bad = [name for name, md5 in target.md5.items() if status.md5.get(name) != md5]
    if bad:
        raise UserError(
            f"{folder}: checksums differ from {target.name} for {', '.join(bad)}. "
            "Delete those files and run `fashionlab data fetch` to get clean copies."
        )
    print(f"{folder}: all 4 files match {target.name} and decode cleanly.")
    return 0


def cmd_data_show(args) -> int:
    from .data import load_dataset
    from .report.figures import sample_grid

    dataset = load_dataset(args.release, args.data_dir)
    images, labels = (
        (dataset.train_images, dataset.train_labels) if args.split == "train" else (dataset.test_images, dataset.test_labels)
    )
    sample_grid(images, labels, dataset.classes, args.out, per_class=args.per_class, seed=args.seed)
    print(f"wrote {args.out} ({args.per_class} {args.split} samples per class, {dataset.release})")
    return 0


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fashionlab", description="Reproduce, compare and extend deep-learning experiments on Fashion-MNIST.")
    parser.add_argument("--version", action="version", version=f"fashionlab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    data = commands.add_parser("data", help="inspect, download, verify and show the dataset")
    data_cmds = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    p = data_cmds.add_parser("info", help="which release a folder holds, with counts and checksums")
    _add_data_dir(p)
    _add_release(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_data_info)

    p = data_cmds.add_parser("fetch", help="download the files that are missing")
    _add_data_dir(p)
    _add_release(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_data_fetch)

    p = data_cmds.add_parser("verify", help="check checksums and that every file decodes")
    _add_data_dir(p)
    _add_release(p, default=None)
    p.set_defaults(func=cmd_data_verify)

    p = data_cmds.add_parser("show", help="draw a labelled grid of samples per class")
    _add_data_dir(p)
    _add_release(p)
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--split", choices=["train", "test"], default="train")
    p.add_argument("--per-class", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_data_show)

    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"fashionlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fashionlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
