"""One self-contained HTML file per report: images embedded as data URIs, no scripts, no URLs.

One run: its caveats, cards, per-class report, model, figures, config and environment. Several
runs: the caveats that concern any of them, then a comparison (one row per run or seed group,
each labelled so no two look alike, the paper's values only where comparable; learning curves,
per-class accuracy as a table and as bars, the best ANN against the best CNN, the confusion
matrices side by side), then each run.

The figures drawn from a run's history and metrics are drawn here, so that every report shows
current figures, also for runs recorded earlier or copied without their PNGs. The misclassified
grid and the model diagram need the test images or the model: those are the run's own files,
shown when present. Every figure opens full size on a click (a CSS checkbox, no script).
"""

from __future__ import annotations

import base64
import statistics
import struct
import tempfile
from datetime import datetime, timezone
from html import escape
from pathlib import Path

import numpy as np

from .. import figures
from ..version import __version__
from ..fileio import atomic_write_text
from ..paper_results import PAPER_SOURCE, PAPER_SUMMARY
from ..runs import RUN_FIGURES, RunRecord, load_run
from .groups import Entry, group_runs
from .protocol import caveats, described, differences, paper_comparable, paper_values, short_of_preset, train_images, validated_epochs
from .runs_table import BEST_VAL_KEYS, NOT_COMPARABLE, PAPER_KEYS, SPARSE_NOTE, cell, columns, entry_row, row_cell, sparse_best

CAPTIONS = dict(RUN_FIGURES)
CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1280px;padding:0 1rem;color:#1d2733;line-height:1.4}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #dde4ee;padding-bottom:.2rem;margin-top:2.2rem}h3{margin:1.4rem 0 .4rem}
.sub{color:#5b6b7f;margin-top:0}.note{background:#fff7e0;border-left:4px solid #e0a800;padding:.5rem .8rem}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.6rem 0;font-size:.86rem}small{color:#5b6b7f}
th,td{border:1px solid #dde4ee;padding:.3rem .45rem;text-align:right;white-space:nowrap}
th{background:#f2f5fa;white-space:normal;vertical-align:bottom}td:first-child,th:first-child{text-align:left}.paper{background:#f7f3ff}
.off{color:#8a94a3;font-style:italic}td.best{font-weight:700}
.cards{display:flex;gap:.8rem;flex-wrap:wrap;margin:.6rem 0}.card{background:#f2f5fa;border-radius:8px;padding:.6rem 1rem;min-width:8rem}
.card b{display:block;font-size:1.4rem}.card.muted b{color:#8a94a3}
figure{margin:1rem 0}figcaption{color:#5b6b7f;font-size:.85rem}img{max-width:100%;height:auto}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:1rem}
.side{display:flex;gap:2.5rem;align-items:flex-start;flex-wrap:wrap}.side>figure{margin-top:.4rem}
pre{background:#f7f9fc;border:1px solid #dde4ee;padding:.6rem;font-size:.78rem;overflow-x:auto}
details{margin:.8rem 0;border-top:1px solid #dde4ee;padding-top:.4rem}summary{cursor:pointer;font-weight:600;font-size:1.05rem}
code{background:#f2f5fa;padding:0 .2rem}.kv td{text-align:left;white-space:normal;max-width:34rem}.kv th{vertical-align:top}
.zoom{display:block;cursor:zoom-in}.zoom input{position:absolute;opacity:0;width:1px;height:1px}
.zoom input:focus-visible+span img{outline:3px solid #4a6fa5}
.zoom input:checked+span{position:fixed;inset:0;z-index:10;overflow:auto;background:rgba(15,20,28,.96);padding:1.5rem;
text-align:center;cursor:zoom-out}
.zoom input:checked+span img{width:auto;max-width:100%;background:#fff}
"""


def _png_width(png: bytes) -> int:
    return struct.unpack(">I", png[16:20])[0]  # the IHDR chunk: width, then height


def _img(png: bytes, alt: str) -> str:
    """The image at its drawn size (matplotlib's inches as CSS's 96 px per inch); a click shows it full size."""
    width = round(_png_width(png) * 96 / figures.DPI)
    data = base64.b64encode(png).decode()
    return (f'<label class="zoom" title="click to enlarge"><input type="checkbox" aria-label="enlarge: {escape(alt)}">'
            f'<span><img alt="{escape(alt)}" width="{width}" src="data:image/png;base64,{data}"></span></label>')


def _figure(png: bytes, caption: str, cls: str = "") -> str:
    return (f'<figure{f" class={cls}" if cls else ""}>{_img(png, caption)}'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _kv_table(items: dict) -> str:
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in items.items())
    return f'<table class="kv">{rows}</table>'


class _Canvas:
    """Draws figures into a temporary folder and hands back their PNG bytes."""

    def __init__(self, folder: Path):
        self.folder, self.count = folder, 0

    def draw(self, draw) -> bytes:
        self.count += 1
        path = self.folder / f"{self.count}.png"
        draw(path)
        return path.read_bytes()


def _mean_matrix(entry: Entry) -> np.ndarray:
    return np.mean([np.asarray(r.metrics["confusion_matrix"], dtype=float) for r in entry.records], axis=0)


def _per_class(entry: Entry, classes) -> tuple[list[float], list[float] | None]:
    """Per-class test accuracy: the run's, or the mean and sample sd over a seed group."""
    values = [[r.metrics["per_class"][c]["accuracy"] for c in classes] for r in entry.records]
    if entry.n == 1:
        return values[0], None
    return [statistics.fmean(v) for v in zip(*values)], [statistics.stdev(v) for v in zip(*values)]


# ------------------------------------------------------------------ one run


def _run_section(entry: Entry, record: RunRecord, anchor: str, canvas: _Canvas, single: bool) -> str:
    m, env = record.metrics, record.environment
    classes = m["classes"]
    label = entry.run_label(record)
    ran = len(record.history)
    validated = validated_epochs(record)
    short = short_of_preset(record)
    cards = [
        ("test accuracy", f"{m['test_accuracy']:.4f}", ""),
        ("test loss", f"{m['test_loss']:.4f}", ""),
        ("best val accuracy" + (f", of {validated} validated epochs" if validated < ran else ""),
         cell(m.get("best_val_accuracy"), "{:.4f}"), ""),
        ("epochs", f"{short[0]} of {short[1]}" if short else str(ran or "-"), ""),
        ("train images", cell(train_images(record), "{:,}"), ""),
        ("precision", str(env.get("precision") or "-"), ""),
        ("train time", cell(m.get("train_seconds"), "{:,.0f} s"), ""),
    ]
    paper = paper_values(record).get("val_accuracy")
    if paper is not None:
        comparable = paper_comparable(record)
        cards.append(("paper's val accuracy" + ("" if comparable else ", not comparable"), f"≈{paper:.2f}",
                      "" if comparable else " muted"))
    cards_html = "".join(f'<div class="card{cls}">{escape(k)}<b>{escape(v)}</b></div>' for k, v, cls in cards)
    notes = ""
    if differences(record):
        notes = (f'<p class="note">Not at its preset ({escape(record.name)}): {escape("; ".join(differences(record)))}. '
                 "Compare it with runs of the same settings only.</p>")

    per_class = "".join(
        f"<tr><td>{escape(name)}</td>" + "".join(f"<td>{row[k]:.4f}</td>" for k in ("precision", "recall", "f1", "accuracy"))
        + f"<td>{row['support']}</td></tr>"
        for name, row in m["per_class"].items()
    )
    left = (f"<div><h3>Per-class report (test set)</h3><table><tr><th>class</th><th>precision</th><th>recall</th>"
            f"<th>f1</th><th>accuracy</th><th>support</th></tr>{per_class}</table>")
    if record.run.summary.is_file():
        left += f"<h3>Model summary</h3><pre>{escape(record.run.summary.read_text(encoding='utf-8', errors='replace'))}</pre>"
    left += "</div>"
    diagram = "".join(_figure(png, caption, "diagram") for _n, caption, png in record.run.read_figures(["model.png"]))

    title = f"{label} ({record.release})"
    figs = []
    if record.history:
        figs.append(_figure(canvas.draw(lambda p: figures.learning_curves(record.history, p, title=title)),
                            CAPTIONS["learning_curves.png"]))
    matrices = [(False, "confusion_matrix.png", f"{title}: test accuracy {m['test_accuracy']:.4f}")] if single else []
    matrices.append((True, "confusion_matrix_normalized.png", f"{title}: share of each true class"))
    pair = [_figure(canvas.draw(lambda p, n=normalize, t=t: figures.confusion_matrix_figure(
        m["confusion_matrix"], classes, p, title=t, normalize=n)), CAPTIONS[name]) for normalize, name, t in matrices]
    figs.append(f'<div class="pair">{"".join(pair)}</div>')
    if single:  # several runs: the comparison's per-class chart has this run's bars
        figs.append(_figure(canvas.draw(lambda p: figures.per_class_accuracy_bars(
            {label: [m["per_class"][c]["accuracy"] for c in classes]}, classes, p, title="per-class test accuracy")),
            CAPTIONS["per_class_accuracy.png"]))
    figs += [_figure(png, caption) for _n, caption, png in record.run.read_figures(["misclassified.png"])]

    config = dict(record.config)
    if "description" in config:
        config["description"] = described(record)
    if "release" in config:  # the name the run asked for may be an alias of the release it found
        asked = config["release"]
        config["release"] = record.release + (f" (asked as {asked})" if asked != record.release else "")
    environment = {
        "dataset release": record.release, "device": f"{env.get('device')} ({env.get('device_name')})",
        "precision": env.get("precision", "-"), "threads": env.get("threads"), "seed": env.get("seed"),
        "fashionlab": env.get("fashionlab"), "torch": env.get("torch"), "python": env.get("python"),
        "numpy": env.get("numpy"), "scikit-learn": env.get("scikit_learn"), "started": env.get("started"),
        "finished": env.get("finished"),
    }
    description = described(record)
    body = (
        (f'<p class="sub">{escape(description)}</p>' if description else "") + f'<div class="cards">{cards_html}</div>'
        + notes + f'<div class="side">{left}{diagram}</div>' + "".join(figs)
        + f'<div class="side"><div><h3>Config</h3>{_kv_table(config)}</div>'
        f"<div><h3>Environment</h3>{_kv_table(environment)}</div></div>"
    )
    return (f'<details id="{anchor}"{" open" if single else ""}><summary>{escape(label)} — '
            f"<code>{escape(str(record.path))}</code></summary>{body}</details>")


# ------------------------------------------------------------------ several runs


def _comparison_table(entries: list[Entry], anchors: dict[int, str]) -> str:
    rows = [entry_row(e) for e in entries]
    shown = columns(rows)
    head = "".join(f'<th{" class=paper" if k in PAPER_KEYS else ""}>{escape(h)}</th>' for k, h, _ in shown)
    body = []
    for entry, row in zip(entries, rows):
        cells = []
        for key, _h, fmt in shown:
            text = escape(row_cell(row, key, fmt)).replace(" ± ", "<br><small>± ", 1)
            text += "</small>" if "<small>" in text else ""
            if key == "label":
                text = f'<a href="#{anchors[id(entry.first)]}">{text}</a>'
            cls = ("paper" + (" off" if text.endswith(NOT_COMPARABLE) else "")) if key in PAPER_KEYS else ""
            attribute = f' class="{cls}"' if cls else ""
            cells.append(f"<td{attribute}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    notes = []
    if any(k in PAPER_KEYS for k, _h, _f in shown):
        notes.append(f'Purple columns: the paper\'s reported "around" values ({escape(PAPER_SOURCE)}), read off its '
                     f"text, not computed here. {escape(PAPER_SUMMARY)}")
    off = [(e.label, differences(e.first)) for e, row in zip(entries, rows)
           if not row["paper_comparable"] and any(row[k] is not None for k in PAPER_KEYS)]
    if off:
        notes.append(f"{NOT_COMPARABLE} Grey: not comparable with the paper, which trained at its full protocol: "
                     + "; ".join(f"{escape(label)} ({escape(', '.join(why) or 'not at its preset')})" for label, why in off)
                     + ".")
    if any(sparse_best(row, k) for row in rows for k in BEST_VAL_KEYS):
        notes.append(escape(SPARSE_NOTE))
    if any(e.n > 1 for e in entries):
        notes.append("Seed groups (n &gt; 1): runs that differ only by their seed; a ± b is their mean and sample "
                     "standard deviation.")
    return (f'<div class="scroll"><table><tr>{head}</tr>{"".join(body)}</table></div>'
            + "".join(f'<p class="sub">{n}</p>' for n in notes))


def _per_class_table(entries: list[Entry], classes) -> str:
    values = [_per_class(e, classes) for e in entries]
    head = "".join(f"<th>{escape(e.label)}</th>" for e in entries)
    rows = []
    for i, name in enumerate(classes):
        best = max(v[0][i] for v in values)
        cells = "".join(
            f'<td{" class=best" if mean[i] == best and len(entries) > 1 else ""}>{mean[i]:.3f}'
            + (f" ± {sd[i]:.3f}" if sd else "") + "</td>" for mean, sd in values)
        rows.append(f"<tr><td>{escape(name)}</td>{cells}</tr>")
    return (f'<div class="scroll"><table><tr><th>class</th>{head}</tr>{"".join(rows)}</table></div>'
            '<p class="sub">Test accuracy per class; bold: the best entry for the class.</p>')


def _comparison(entries: list[Entry], anchors: dict[int, str], canvas: _Canvas) -> str:
    classes = entries[0].first.metrics["classes"]
    parts = ["<h2>Comparison</h2>", _comparison_table(entries, anchors)]

    with_curves = [e for e in entries if any(r.history for r in e.records)]
    if with_curves:
        png = canvas.draw(lambda p: figures.overlaid_curves({e.label: [r.history for r in e.records] for e in with_curves}, p))
        without = [e.label for e in entries if e not in with_curves]
        caption = " ".join(filter(None, [
            "Accuracy and loss per epoch, every run on the same axes.",
            "A seed group is drawn as its mean, with a band of ± one standard deviation." if any(e.n > 1 for e in with_curves) else "",
            f"Without epochs, so without curves: {', '.join(without)}." if without else ""]))
        parts += ["<h3>Learning curves</h3>", _figure(png, caption)]

    per_class = {e.label: _per_class(e, classes) for e in entries}
    parts += ["<h3>Per-class test accuracy</h3>", _per_class_table(entries, classes)]
    errors = {label: sd for label, (_mean, sd) in per_class.items() if sd}
    parts.append(_figure(canvas.draw(lambda p: figures.per_class_accuracy_bars(
        {label: mean for label, (mean, _sd) in per_class.items()}, classes, p, title="per-class test accuracy",
        errors=errors or None)), "Per-class test accuracy of every run" + (", mean ± sd for seed groups" if errors else "")))

    best: dict[str, Entry] = {}  # model family (from the registry) -> its best entry; baselines and ensembles have none
    for e in entries:
        family = e.first.family
        mean = statistics.fmean(r.metrics["test_accuracy"] for r in e.records)
        if family and (family not in best or mean > statistics.fmean(r.metrics["test_accuracy"] for r in best[family].records)):
            best[family] = e
    if {"ann", "cnn"} <= set(best) and len(entries) > 2:  # with two entries, the chart above is this one
        ann, cnn = best["ann"], best["cnn"]
        pair = {f"best ANN: {ann.label}": per_class[ann.label], f"best CNN: {cnn.label}": per_class[cnn.label]}
        errors = {k: sd for k, (_m, sd) in pair.items() if sd}
        png = canvas.draw(lambda p: figures.per_class_accuracy_bars(
            {k: mean for k, (mean, _sd) in pair.items()}, classes, p, title="ANN against CNN: per-class test accuracy",
            errors=errors or None))
        parts.append(_figure(png, "ANN against CNN (the best of each by test accuracy)"))

    matrices = []
    for e in entries:
        mean = _mean_matrix(e)
        accuracy = statistics.fmean(r.metrics["test_accuracy"] for r in e.records)
        title = f"{e.label}: test accuracy {accuracy:.4f}" + (f" (mean of {e.n} seeds)" if e.n > 1 else "")
        matrices.append(_figure(canvas.draw(lambda p, mean=mean, title=title: figures.confusion_matrix_figure(
            mean, classes, p, title=title)), e.label + (f": mean counts over {e.n} seeds, rounded" if e.n > 1 else "")))
    parts.append(f'<h3>Confusion matrices side by side</h3><div class="pair">{"".join(matrices)}</div>')
    return "".join(parts)


def render_report(run_dirs, out, title: str | None = None, notes: list[str] | None = None) -> Path:
    records = [load_run(p) for p in run_dirs]
    entries = group_runs(records)
    entry_of = {id(r): e for e in entries for r in e.records}
    anchors = {id(r): f"run-{i}" for i, r in enumerate(records)}
    releases = sorted({r.release for r in records})
    single = len(records) == 1
    title = title or (f"fashionlab: {entries[0].label}" if single else f"fashionlab: {len(records)} runs compared")
    groups = sum(e.n > 1 for e in entries)
    header = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">Dataset release: <b>{escape(", ".join(releases))}</b> · {len(records)} run(s)'
        + (f", {groups} seed group(s)" if groups else "")
        + f" · written {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by fashionlab {escape(__version__)}</p>",
    ]
    all_notes = list(notes or []) + caveats(records, lambda r: entry_of[id(r)].label)
    header += [f'<p class="note">{escape(n)}</p>' for n in all_notes]
    with tempfile.TemporaryDirectory() as tmp:
        canvas = _Canvas(Path(tmp))
        comparison = "" if single else _comparison(entries, anchors, canvas)
        runs = "".join(_run_section(e, r, anchors[id(r)], canvas, single) for e in entries for r in e.records)
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}</style></head><body>{''.join(header)}{comparison}<h2>{'Run' if single else 'Runs'}</h2>"
        f"{runs}</body></html>\n"
    )
    out = Path(out)
    atomic_write_text(out, page)
    return out
