"""Command-line interface: argument parsing and printing only; the work is in the API modules.

Exit codes: 0 success; 2 usage or input error (one paragraph naming the file or flag and the
fix, no traceback); 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

from .version import __version__
from .errors import UserError, one_line_warning


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", metavar="DIR", help="folder holding the IDX files (default: $FASHIONLAB_DATA, else the user cache)")


def _add_release(p: argparse.ArgumentParser, default: str | None = "fashion-mnist") -> None:
    from .data.releases import RELEASES

    p.add_argument("--release", default=default, choices=list(RELEASES), help="dataset release (default: %(default)s)")


def _device_choices() -> tuple[str, ...]:
    from .experiment import FIELDS

    return FIELDS["device"].metadata["choices"]


# Config keys with a flag of their own on `train` (the CLI contract names these) and `reproduce`.
# The flags are generated from ExperimentConfig's field metadata (type, choices, doc), so their
# help follows the schema; every other key is set with --set KEY=VALUE.
TRAIN_FLAGS = ("epochs", "batch_size", "lr", "optimizer", "seed", "train_limit", "device", "release", "precision",
               "threads", "label", "tensorboard")
REPRODUCE_FLAGS = ("device", "train_limit", "release", "precision", "threads", "tensorboard")
SWEEP_FLAGS = ("epochs", "train_limit", "device")
METAVARS = {"tensorboard": "DIR"}  # where the type alone would say TEXT


def _show_progress(args) -> bool:
    """Progress bars on a terminal only: redirected to a file they would write a line per refresh."""
    return not args.quiet and sys.stderr.isatty()


def _add_config_flags(p: argparse.ArgumentParser, keys: tuple[str, ...]) -> None:
    from .data.releases import RELEASES
    from .experiment import FIELDS

    group = p.add_argument_group("config keys (default: the experiment's own)")
    for key in keys:
        spec = FIELDS[key].metadata
        # Release names live in the data layer; the schema checks them on load, as it checks choices:
        # the values are validated there, with the same message as in a config file.
        choices = spec["choices"] or (tuple(RELEASES) if key == "release" else None)
        metavar = "{" + ",".join(choices) + "}" if choices else METAVARS.get(key) or {int: "N", float: "X"}.get(spec["kind"], "TEXT")
        help = f"{spec['doc']} (config key {key})" if spec["doc"] else f"config key {key}"
        group.add_argument("--" + key.replace("_", "-"), dest=key, type=spec["kind"], metavar=metavar, help=help)
    group.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="any config key, the value as in a TOML file (strings may go unquoted), "
                            "e.g. --set label_smoothing=0.1 --set schedule=onecycle; repeatable")


def _config_overrides(args, keys: tuple[str, ...]) -> dict:
    """The config keys given on the command line: their own flags, then --set (one of the two per key)."""
    from .experiment import parse_assignment

    overrides = {key: getattr(args, key) for key in keys}
    for text in args.set:
        key, value = parse_assignment(text)
        if overrides.get(key) is not None:
            raise UserError(f"--set {key}=... and --{key.replace('_', '-')} both given; give one of them.")
        overrides[key] = value
    return overrides


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
    release = RELEASES.get(dataset.release)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"folder:   {dataset.data_dir}  (from {origin})")
    print(f"release:  {dataset.description}")
    print("files:")
    for standard, md5 in info["checksums"].items():
        name = dataset.file_names.get(standard, standard)  # the uncompressed name for a raw file
        mark = "ok" if release and release.expected_md5(name) == md5 else "no known checksum"
        print(f"  {name:<28} md5 {md5}  {mark}")
    for split, data in info["splits"].items():
        counts = ", ".join(f"{k} {v}" for k, v in data["per_class"].items())
        print(f"{split}: {data['count']:,} images ({counts})")
    return 0


def cmd_data_fetch(args) -> int:
    from .data.store import fetch

    status = fetch(args.release, args.data_dir, progress=_show_progress(args))
    print(f"{status.folder}: {status.describe()}")
    return 0


def cmd_data_verify(args) -> int:
    from .data.releases import closest, get_release
    from .data.store import check_data_folder, default_data_dir, inspect_folder, read_split_arrays

    folder, origin = default_data_dir(args.release or "fashion-mnist", args.data_dir)
    check_data_folder(folder, origin, args.release or "fashion-mnist")
    status = inspect_folder(folder)
    read_split_arrays(status, use_cache=False)  # every file decodes and the counts agree
    target = get_release(args.release) if args.release else (status.release or closest(status.found_md5)[0])
    if status.release is not None and status.release != target:  # a good copy of another release: keep it
        raise UserError(f"{folder}: holds {status.release.name} (every checksum matches it), not {target.name}. "
                        f"Fetch {target.name} into another folder: "
                        f"`fashionlab data fetch --release {target.name} --data-dir NEW_DIR`.")
    bad = [name for name, md5 in status.found_md5.items() if target.expected_md5(name) not in (None, md5)]
    if bad:
        raise UserError(
            f"{folder}: checksums differ from {target.name} for {', '.join(bad)}. "
            "Delete those files and run `fashionlab data fetch` to get clean copies."
        )
    unknown = [name for name in status.found_md5 if target.expected_md5(name) is None]
    if unknown:  # uncompressed files of a release whose uncompressed checksums fashionlab lacks: not bad data
        raise UserError(
            f"{folder}: every file decodes cleanly, but fashionlab knows no checksum for the uncompressed "
            f"{', '.join(unknown)} of {target.name}, so the copy cannot be verified. For a verified copy, fetch "
            f"the gzipped files into an empty folder (`fashionlab data fetch --release {target.name} --data-dir NEW_DIR`)."
        )
    print(f"{folder}: all 4 files match {target.name} and decode cleanly.")
    return 0


def _check_figure_name(path: str, flag: str) -> None:
    """A figure is written in the format its name asks for: a name without one of them is refused."""
    from pathlib import Path

    from .figures import FIGURE_FORMATS

    if Path(path).suffix.lower() not in FIGURE_FORMATS:
        raise UserError(f"{flag} {path}: give a file name ending in {', '.join(FIGURE_FORMATS)} (the format to write).")


def cmd_data_show(args) -> int:
    from .data import load_dataset
    from .fileio import check_output_file
    from .figures import sample_grid

    check_output_file(args.out, "--out", "samples.png")
    _check_figure_name(args.out, "--out")
    if not (1 <= args.per_class <= 100 and args.seed >= 0):
        raise UserError(f"--per-class {args.per_class}, --seed {args.seed}: give 1 to 100 samples per class and a seed >= 0.")
    dataset = load_dataset(args.release, args.data_dir)
    images, labels = (
        (dataset.train_images, dataset.train_labels) if args.split == "train" else (dataset.test_images, dataset.test_labels)
    )
    try:
        sample_grid(images, labels, dataset.classes, args.out, per_class=args.per_class, seed=args.seed)
    except OSError as exc:  # the disk filled up, or the folder changed since the check above
        raise UserError(f"--out {args.out}: cannot write the file ({exc.strerror}); nothing was written.") from None
    print(f"wrote {args.out} ({args.per_class} {args.split} samples per class, {dataset.release})")
    return 0


# ---------------------------------------------------------------- models, train, evaluate, predict


def cmd_models_list(args) -> int:
    from .models.registry import MODELS  # sizes as recorded there: no model is built, PyTorch is not loaded

    width = max(len(name) for name in MODELS) + 2
    print(f"{'model':<{width}}{'parameters':>12}{'hidden':>8}  description")
    for entry in MODELS.values():
        print(f"{entry.name:<{width}}{entry.parameters:>12,}{entry.hidden_layers:>8}  {entry.description}")
    return 0


def cmd_models_show(args) -> int:
    from .models import build_model, model_entry
    from .models.summary import summarize

    entry = model_entry(args.name)
    print(summarize(build_model(args.name)).format(f'Model: "{entry.name}" ({entry.description})'))
    return 0


def cmd_train(args) -> int:
    from .api import default_run_dir
    from .experiment import load_config
    from .training import Interrupted, resume_config, train

    if args.seeds is not None and args.seed is not None:
        raise UserError("--seed and --seeds both given; give one of them (--seeds 0 1 2 trains one run per seed).")
    overrides = _config_overrides(args, TRAIN_FLAGS)
    if args.resume:
        if not args.out:
            raise UserError("--resume needs --out: the run directory to continue.")
        if args.seeds is not None:
            raise UserError("--resume and --seeds both given: a --seeds command continues by itself when run again.")
        config = resume_config(args.out, args.experiment, overrides)  # the run's own config.toml
    elif args.experiment is None:
        raise UserError("train: give an experiment (a preset such as cnn-2, or a TOML file), "
                        "or --out DIR --resume to continue a run.")
    else:
        config = load_config(args.experiment, overrides)
    out = args.out or default_run_dir(config)
    print(f"{config.name}: {config.description}", flush=True)
    if args.seeds is not None:
        return _train_seeds(args, config, out)
    try:
        result = train(config, out, data_dir=args.data_dir, resume=args.resume, progress=_show_progress(args))
    except Interrupted as stop:
        print(f"fashionlab: {stop}. Continue with: fashionlab train --out {stop.run_dir} --resume", file=sys.stderr)
        return 130
    m = result.metrics
    print(f"test accuracy {m['test_accuracy']:.4f}, test loss {m['test_loss']:.4f} "
          f"({m['test_count']:,} test images, release {m['release']})")
    print(f"run directory: {result.run_dir}")
    return 0


def _train_seeds(args, config, out) -> int:
    from .seeds import format_summary, train_seeds
    from .training import Interrupted

    try:
        result = train_seeds(config, args.seeds, out, data_dir=args.data_dir, progress=_show_progress(args))
    except Interrupted as stop:
        print(f"fashionlab: {stop}. Run the same command again to continue: finished seeds are kept.", file=sys.stderr)
        return 130
    print(format_summary(result.summary))
    print(f"run directories: {', '.join(str(result.out / name) for name in result.summary['runs'])}")
    print(f"summary: {result.summary_path}")
    return 0


def cmd_runs(args) -> int:
    from .run_list import as_json, format_table, list_runs

    rows = list_runs(args.folder, args.filter, sort=args.sort, descending=args.desc)
    if args.json:
        print(json.dumps(as_json(rows), indent=2))
        return 0
    if not rows:
        print(f"no runs under {args.folder}" + (" match the filters" if args.filter else ""))
        return 0
    print(format_table(rows))
    print(f"{len(rows)} run{'s' if len(rows) != 1 else ''} under {args.folder}")
    return 0


def cmd_evaluate(args) -> int:
    from .evaluation import evaluate_run

    flip = None if args.tta is None else args.tta == "on"
    metrics, disagreements = evaluate_run(args.run_dir, args.data_dir, args.device, tta_flip=flip,
                                          tta_shift=args.tta_shift, split=args.split)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        split = args.split
        print(f"{split} accuracy {metrics[f'{split}_accuracy']:.4f}, {split} loss {metrics[f'{split}_loss']:.4f}, "
              f"macro F1 {metrics['macro_f1']:.4f} ({metrics[f'{split}_count']:,} images)")
        print(f"{'class':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'accuracy':>10}")
        for name, row in metrics["per_class"].items():
            print(f"{name:<14}{row['precision']:>10.4f}{row['recall']:>10.4f}{row['f1']:>10.4f}{row['accuracy']:>10.4f}")
    recorded = "metrics.json" if args.split == "test" else "history.csv"
    if disagreements is None:
        from .runs import RunDir

        run = RunDir(args.run_dir)
        config = run.read_config()
        overrides = [f"{flag} {given}" for flag, value, own, given in (
            ("--tta", flip, config.tta_flip, args.tta), ("--tta-shift", args.tta_shift, config.tta_shift, args.tta_shift))
            if value is not None and value != own]
        why = (f"{run.metrics} is missing" if not run.metrics.is_file() else
               f"test-time augmentation set by {' and '.join(overrides)}, not the run's own")
        print(f"not compared with the run's {recorded}: {why}", file=sys.stderr)
        return 0
    if disagreements:
        print(f"DISAGREES with {recorded}: " + "; ".join(disagreements), file=sys.stderr)
        return 1
    print(f"agrees with the run's {recorded}", file=sys.stderr)
    return 0


def cmd_predict(args) -> int:
    import os

    from .fileio import check_output_file
    from .predict import predict_images
    from .runs import refuse_run_file_as_output

    if args.show:
        check_output_file(args.show, "--show", "predictions.png")
        refuse_run_file_as_output(args.show, "--show")  # first: it names the real danger, a run's own file
        _check_figure_name(args.show, "--show")
        # realpath, not Path.resolve(): an image that is a loop of links is reported per image below, not raised here
        if any(os.path.realpath(image) == os.path.realpath(args.show) for image in args.images):
            raise UserError(f"--show {args.show} is one of the images to predict; writing the figure there would "
                            "replace it. Give another file name.")
    results = predict_images(args.run_dir, args.images, top_k=args.top, device=args.device)
    for p in results:  # answers on stdout; unreadable files and notes on stderr
        if p.error:
            print(f"fashionlab: error: {p.error}", file=sys.stderr)
            continue
        ranked = ", ".join(f"{name} {prob:.3f}" for name, prob in p.top)
        note = "  (dark-on-light: inverted)" if p.inverted else ""
        print(f"{p.path}: {ranked}{note}", flush=True)
        for text in p.notes:
            print(f"fashionlab: warning: {p.path}: {text}", file=sys.stderr)
    answered = [p for p in results if not p.error]
    if args.show and answered:
        from .predict_figure import MAX_SHOWN, prediction_figure

        prediction_figure(answered, answered[0].classes, args.show)
        print(f"wrote {args.show}" + (f" (the first {MAX_SHOWN} of {len(answered)} images; give fewer images to draw "
                                      "the others)" if len(answered) > MAX_SHOWN else ""))
    failed = len(results) - len(answered)
    if failed and len(results) > 1:  # one file: its error line says it all
        print(f"fashionlab: {failed} of {len(results)} files could not be read"
              + ("; the others are answered above." if answered else "."), file=sys.stderr)
    return 2 if failed else 0


def cmd_report(args) -> int:
    from .fileio import check_output_file
    from .report.html import render_report
    from .runs import refuse_repeated_runs, refuse_run_file_as_output
    from .sweep import is_sweep_folder

    sweeps = [p for p in args.run_dirs if is_sweep_folder(p)]
    if sweeps:
        if len(args.run_dirs) > 1:
            raise UserError(f"{sweeps[0]} is a sweep folder: report one sweep at a time, without run directories.")
        from .report.sweep import render_sweep_report

        out = render_sweep_report(sweeps[0], args.out and check_output_file(args.out, "--out", "report.html"),
                                  storage_url=args.storage)
        print(f"wrote {out}")
        return 0
    if args.storage:
        raise UserError("--storage is for a sweep folder's report; run directories need none.")
    from .experiment import text_problem

    if args.title is not None and (problem := text_problem("title", args.title)):
        raise UserError(f"--title {problem}; got {args.title!r}.")
    if not args.out:
        raise UserError("--out FILE.html is required for a report of run directories (a sweep folder's report "
                        "goes to SWEEP_DIR/report.html by default).")
    refuse_repeated_runs(args.run_dirs, "a comparison shows each run once")
    refuse_run_file_as_output(args.out, "--out")
    out = render_report(args.run_dirs, check_output_file(args.out, "--out", "report.html"), title=args.title)
    print(f"wrote {out} ({len(args.run_dirs)} run(s))")
    return 0


def cmd_reproduce(args) -> int:
    from .reproduce import reproduce
    from .training import Interrupted

    try:
        result = reproduce(args.out, scale=args.scale, data_dir=args.data_dir,
                           overrides=_config_overrides(args, REPRODUCE_FLAGS), progress=_show_progress(args),
                           jobs=args.jobs)
    except Interrupted as stop:
        print(f"fashionlab: {stop}. Run the same command again to continue.", file=sys.stderr)
        return 130
    print(result.table)
    print(f"report: {result.report}\nsummary: {result.summary}")
    return 0


def cmd_sweep(args) -> int:
    from .report.sweep import render_sweep_report
    from .sweep import load_spec, run_sweep
    from .training import Interrupted

    if args.trials is not None and args.trials < 1:
        raise UserError(f"--trials {args.trials}: give a budget of at least 1 trial.")
    spec = load_spec(args.spec, _config_overrides(args, SWEEP_FLAGS), trials=args.trials)
    out = args.out or f"sweeps/{args.study or spec.name}"
    try:
        result = run_sweep(spec, out, storage_url=args.storage, study_name=args.study, data_dir=args.data_dir,
                           progress=not args.quiet)
    except Interrupted as stop:
        print(f"fashionlab: {stop}. Run the same command again to continue: the trial resumes from its checkpoint.",
              file=sys.stderr)
        return 130
    report = render_sweep_report(result.folder, storage_url=args.storage)
    c = result.counts
    print(f"study {result.study}: {c['complete']} completed, {c['pruned']} pruned, {c['failed']} failed"
          + (f", {c['running']} still running elsewhere" if c["running"] else "")
          + f"; this worker ran {len(result.ran)}")
    if result.best:
        b = result.best
        shown = ", ".join(f"{k}={v}" for k, v in b["params"].items())
        print(f"best: trial {b['number']}, {spec.objective} {b['value']:.4f} ({shown}); run directory {b['run_dir']}")
    print(f"report: {report}")
    return 0


def cmd_baselines(args) -> int:
    from .baselines import run_baselines
    from .runs import load_run

    run_baselines(args.methods, args.out, data_dir=args.data_dir, release=args.release, seed=args.seed,
                  train_limit=args.train_limit or 0)
    print(f"\n{'baseline':<16}{'test acc':>10}{'train s':>10}{'predict s':>11}")
    for name in args.methods:
        m = load_run(f"{args.out}/{name}").metrics
        print(f"{name:<16}{m['test_accuracy']:>10.4f}{m['train_seconds']:>10.1f}{m['predict_seconds']:>11.1f}")
    print(f"run directories under {args.out}/ (use them with `fashionlab report`)")
    return 0


def cmd_ensemble(args) -> int:
    from .ensemble import ensemble

    m = ensemble(args.run_dirs, args.out, data_dir=args.data_dir)
    for path, accuracy in m["members"].items():
        print(f"  member {path}: test accuracy {accuracy:.4f}")
    print(f"ensemble of {len(m['members'])}: test accuracy {m['test_accuracy']:.4f} "
          f"({m['gain_over_best_member']:+.4f} over the best member, {m['gain_over_mean_member']:+.4f} over their mean), "
          f"release {m['release']}")
    print(f"run directory: {args.out}")
    return 0


def cmd_export(args) -> int:
    from .export import ExportCheckFailed, export_run
    from .runs import refuse_run_file_as_output

    if args.out:
        refuse_run_file_as_output(args.out, "--out")
    try:
        r = export_run(args.run_dir, args.format, args.out, data_dir=args.data_dir)
    except ExportCheckFailed as exc:
        print(f"fashionlab: export failed its check: {exc}", file=sys.stderr)
        return 1
    print(f"checked on the test set: {r.argmax_agree} of {r.images_checked} test images get the same class from "
          f"{r.format} as from PyTorch; largest probability difference {r.max_probability_diff:.2e}; "
          f"test accuracy of the exported model {r.test_accuracy:.4f}")
    print(f"wrote {r.path}")
    return 0


def server_url(host: str, port: int) -> str:
    """The address to open: an IPv6 host takes brackets in a URL (http://[::1]:8000/)."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def cmd_serve(args) -> int:
    try:
        import uvicorn

        from .serve.app import create_app
    except ImportError:
        raise UserError("`fashionlab serve` needs the serve extra: pip install 'fashionlab[serve]'.") from None
    if not 0 < args.max_upload_mb <= 1024:
        raise UserError(f"--max-upload-mb {args.max_upload_mb:g}: give more than 0 and at most 1024.")
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: give 0 to 65535 (0: any free port).")
    app = create_app(args.run_dir, max_upload_mb=args.max_upload_mb, device=args.device)
    sock = _listening_socket(args.host, args.port)
    port = sock.getsockname()[1]  # the one the system chose, for --port 0
    print(f"serving {args.run_dir} at {server_url(args.host, port)} (API docs at /docs); Ctrl-C stops", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    return 0


def _listening_socket(host: str, port: int):
    """A socket bound to host:port, made here so that a port in use or a bad --host is one line with
    exit code 2 (uvicorn, binding itself, logs the error and exits with 3)."""
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restart without waiting
        sock.bind(address)
    except (OSError, UnicodeError) as exc:  # UnicodeError: a host name IDNA cannot encode (an empty label)
        raise UserError(f"--host {host} --port {port}: cannot listen there ({getattr(exc, 'strerror', None) or exc}); "
                        "give a free --port, or a --host that is an address of this machine.") from None
    sock.set_inheritable(True)
    return sock


# ---------------------------------------------------------------- parser


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's one-line errors: the usage block it prints by default runs to ten
    lines for a command with many flags; `--help` still prints it."""

    def error(self, message: str):
        self.exit(2, f"fashionlab: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fashionlab", description="Reproduce, compare and extend deep-learning experiments on Fashion-MNIST.")
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
    p.add_argument("--out", required=True, help="image file to write: .png, .jpg, .pdf or .svg, by its name")
    p.add_argument("--split", choices=["train", "test"], default="train", help="which split to draw from (default: %(default)s)")
    p.add_argument("--per-class", type=int, default=10, metavar="N", help="samples per class, 1 to 100 (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random choice of samples (default: %(default)s)")
    p.set_defaults(func=cmd_data_show)

    models = commands.add_parser("models", help="list the registered models or show one")
    model_cmds = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    model_cmds.add_parser("list", help="every model with its parameter count").set_defaults(func=cmd_models_list)
    p = model_cmds.add_parser("show", help="a Keras-like summary: layer, output shape, parameters")
    p.add_argument("name", help="a model name from `fashionlab models list` (any case)")
    p.set_defaults(func=cmd_models_show)

    from .experiment import preset_names

    p = commands.add_parser("train", help="train an experiment (a preset such as cnn-2, or a TOML file)")
    p.add_argument("experiment", nargs="?",
                   help=f"preset name ({', '.join(preset_names())}; any case) or a TOML config file, "
                        "which may `extends = \"PRESET\"` or another file; with --resume, the run's own (optional)")
    _add_config_flags(p, TRAIN_FLAGS)
    _add_data_dir(p)
    p.add_argument("--out", help="run directory (default: runs/NAME-TIMESTAMP); with --seeds, the folder of the seed-N runs")
    p.add_argument("--seeds", type=int, nargs="+", metavar="N",
                   help="train once per seed into OUT/seed-N and write OUT/seeds.json (mean, sd and n of each metric); "
                        "run again to continue")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its checkpoint, with its own config (only --epochs may extend it)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (there is none when stderr is not a terminal); one line per epoch either way")
    p.set_defaults(func=cmd_train)

    p = commands.add_parser("runs", help="list past runs: model, release, precision, epochs, train size, test accuracy, time, date")
    p.add_argument("folder", nargs="?", default="runs", metavar="DIR", help="folder searched for runs (default: %(default)s)")
    p.add_argument("--sort", default="date", metavar="KEY",
                   help="column to sort by (default: %(default)s): run, model, release, precision, epochs, train_images, "
                        "test_acc, time, date, or experiment, label, kind, status")
    p.add_argument("--desc", action="store_true", help="sort in descending order")
    p.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="keep runs whose KEY matches VALUE (a glob, any case; != excludes); numbers also take >, >=, <, <=, "
                        "e.g. --filter model=cnn-2 --filter 'test_acc>0.9'; repeatable")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_runs)

    p = commands.add_parser("evaluate", help="recompute a run's test metrics from its saved weights")
    p.add_argument("run_dir", help="a finished network run's directory")
    _add_data_dir(p)
    p.add_argument("--device", default="auto", choices=_device_choices(), help="device to score on (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--split", choices=["test", "validation"], default="test",
                   help="score the test set, or the validation images the run held out (to choose test-time "
                        "augmentation without the test set); default: %(default)s")
    p.add_argument("--tta", choices=["on", "off"], help="override the run's flip test-time augmentation")
    p.add_argument("--tta-shift", type=int, metavar="N",
                   help="override the run's multi-crop test-time augmentation: also average over the image moved N "
                        "pixels (0 to 4; 0: off)")
    p.set_defaults(func=cmd_evaluate)

    p = commands.add_parser("predict", help="classify PNG or JPEG images with a trained run")
    p.add_argument("run_dir", help="a finished network run's directory")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files; one that cannot be read is reported and skipped")
    p.add_argument("--top", type=int, default=3, help="how many classes to show (default 3)")
    p.add_argument("--device", default="auto", choices=_device_choices(), help="device to score on (default: %(default)s)")
    p.add_argument("--show", metavar="FILE.png", help="also draw each image as the model sees it beside its probabilities")
    p.set_defaults(func=cmd_predict)

    p = commands.add_parser("report", help="one self-contained HTML report of one run, or a comparison of several")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories, or one sweep folder")
    p.add_argument("--out", help="HTML file to write (required for run directories; default for a sweep: SWEEP_DIR/report.html)")
    p.add_argument("--title", help="the report's title (default: from the runs)")
    p.add_argument("--storage", help="a sweep's database URL, where the one its sweep.json records (password removed) is not enough")
    p.set_defaults(func=cmd_report)

    from .baselines import BASELINES

    p = commands.add_parser("baselines", help="classical baselines (scikit-learn) in the run-directory format")
    p.add_argument("--methods", nargs="+", default=list(BASELINES), choices=list(BASELINES), metavar="METHOD",
                   help=f"default: all ({', '.join(BASELINES)})")
    p.add_argument("--out", default="runs/baselines", help="parent folder of the run directories (default: %(default)s)")
    _add_data_dir(p)
    _add_release(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the methods that draw random numbers (default: %(default)s)")
    p.add_argument("--train-limit", type=int, metavar="N", help="fit on the first N training images")
    p.set_defaults(func=cmd_baselines)

    p = commands.add_parser("ensemble", help="average the test predictions of several runs")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="finished runs on the same release")
    p.add_argument("--out", required=True, help="run directory for the ensemble")
    _add_data_dir(p)
    p.set_defaults(func=cmd_ensemble)

    p = commands.add_parser("reproduce", help="run the paper's six experiments and write the comparison report")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every epoch count (e.g. 0.02 for a quick look)")
    p.add_argument("--out", default="runs/reproduce", help="folder for the six runs and the report (default: %(default)s)")
    _add_data_dir(p)
    _add_config_flags(p, REPRODUCE_FLAGS)
    p.add_argument("--jobs", type=int, default=1,
                   help="experiments trained at once, each in its own process (default: %(default)s; "
                        "6 on a GPU machine finishes in the time of the longest run)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_reproduce)

    p = commands.add_parser("sweep", help="an Optuna sweep over config keys: trials chosen and pruned, stored in "
                                          "SQLite or a database shared by workers on many machines")
    p.add_argument("spec", help="a shipped sweep (paper-ann, paper-cnn, fast) or a sweep TOML file")
    p.add_argument("--storage", metavar="URL", help="database URL shared by all workers, e.g. "
                   "postgresql://USER:PASSWORD@HOST/DB (default: SQLite, OUT/study.db)")
    p.add_argument("--study", metavar="NAME", help="study name in the storage (default: the spec's name)")
    p.add_argument("--out", help="sweep folder: sweep.json, trials/NNNN run directories, report.html "
                                 "(default: sweeps/STUDY)")
    p.add_argument("--trials", type=int, metavar="N", help="budget: trials in the study (default: the spec's)")
    _add_config_flags(p, SWEEP_FLAGS)
    _add_data_dir(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)

    p = commands.add_parser("export", help="export a run's model to ONNX or TorchScript, checked on the test set")
    p.add_argument("run_dir", help="a finished network run's directory")
    p.add_argument("--format", choices=["onnx", "torchscript"], default="onnx", help="file format (default: %(default)s)")
    p.add_argument("--out", help="file to write (default: RUN_DIR/model.onnx or model.pt)")
    _add_data_dir(p)
    p.set_defaults(func=cmd_export)

    p = commands.add_parser("serve", help="serve a run over HTTP: a JSON API and a page to drop photos on")
    p.add_argument("run_dir", help="a finished network run's directory")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    p.add_argument("--max-upload-mb", type=float, default=5.0, help="largest request body accepted (default: %(default)s)")
    p.add_argument("--device", default="cpu", choices=_device_choices(), help="device to score on (default: %(default)s)")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = one_line_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
        return code
    except UserError as exc:
        print(f"fashionlab: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like; an OSError, so caught before them
        # Python's recipe (signal module docs): point stdout at devnull, or the flush at exit fails again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        if exc.filename is None:  # not about a path the user gave (a socket, a library's own failure)
            raise
        from .fileio import os_error_line

        print(f"fashionlab: error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fashionlab: interrupted", file=sys.stderr)
        return 130
