"""One self-contained HTML file per report: images embedded as data URIs, no scripts, no URLs.

One run: its config, environment, metrics and figures. Several runs: a comparison (side-by-side
table with the paper's reported numbers, overlaid learning curves, per-class accuracy of every
run and of the best ANN against the best CNN, confusion matrices side by side), then each run.
"""

from __future__ import annotations

import base64
import tempfile
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from .. import __version__, figures
from ..fileio import atomic_write_text
from ..paper_results import PAPER_SOURCE, PAPER_SUMMARY
from ..runs import RunRecord, load_run
from .runs_table import COLUMNS, cell, comparison_rows

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#1d2733}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #dde4ee;padding-bottom:.2rem;margin-top:2.2rem}
.sub{color:#5b6b7f;margin-top:0}.note{background:#fff7e0;border-left:4px solid #e0a800;padding:.5rem .8rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}th,td{border:1px solid #dde4ee;padding:.3rem .55rem;text-align:right}
th{background:#f2f5fa}td:first-child,th:first-child{text-align:left}.paper{background:#f7f3ff}
.cards{display:flex;gap:.8rem;flex-wrap:wrap}.card{background:#f2f5fa;border-radius:8px;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}figure{margin:.8rem 0}figcaption{color:#5b6b7f;font-size:.85rem}
img{max-width:100%;height:auto}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:1rem}
details{margin:.6rem 0}summary{cursor:pointer;font-weight:600}code{background:#f2f5fa;padding:0 .2rem}
"""


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _figure(png: bytes, caption: str) -> str:
    return f"<figure>{_img(png, caption)}<figcaption>{escape(caption)}</figcaption></figure>"


def _kv_table(items: dict) -> str:
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in items.items())
    return f"<table>{rows}</table>"


def _run_section(record: RunRecord, open_: bool) -> str:
    m = record.metrics
    env = record.environment
    cards = "".join(
        f'<div class="card">{escape(label)}<b>{escape(value)}</b></div>'
        for label, value in [
            ("test accuracy", f"{m['test_accuracy']:.4f}"),
            ("test loss", f"{m['test_loss']:.4f}"),
            ("best val accuracy", cell(m.get("best_val_accuracy"), "{:.4f}")),
            ("epochs", str(len(record.history))),
            ("train time", cell(m.get("train_seconds"), "{:,.0f} s")),
        ]
    )
    per_class = "".join(
        f"<tr><td>{escape(name)}</td>" + "".join(f"<td>{row[k]:.4f}</td>" for k in ("precision", "recall", "f1", "accuracy"))
        + f"<td>{row['support']}</td></tr>"
        for name, row in m["per_class"].items()
    )
    environment = {
        "dataset release": record.release, "device": f"{env.get('device')} ({env.get('device_name')})",
        "threads": env.get("threads"), "seed": env.get("seed"), "fashionlab": env.get("fashionlab"),
        "torch": env.get("torch"), "python": env.get("python"), "numpy": env.get("numpy"),
        "scikit-learn": env.get("scikit_learn"), "started": env.get("started"), "finished": env.get("finished"),
    }
    figs = "".join(_figure(png, caption) for _name, caption, png in record.run.read_figures())
    body = (
        f'<p class="sub">{escape(record.config.get("description", ""))}</p><div class="cards">{cards}</div>'
        f"<h3>Per-class report (test set)</h3><table><tr><th>class</th><th>precision</th><th>recall</th>"
        f"<th>f1</th><th>accuracy</th><th>support</th></tr>{per_class}</table>"
        f'<div class="grid">{figs}</div>'
        f"<h3>Config</h3>{_kv_table(record.config)}<h3>Environment</h3>{_kv_table(environment)}"
    )
    return f'<details{" open" if open_ else ""}><summary>{escape(record.name)} — {escape(str(record.path))}</summary>{body}</details>'


def _comparison(records: list[RunRecord], workdir: Path) -> str:
    rows = comparison_rows(records)
    head = "".join(f'<th{" class=paper" if k.startswith("paper") else ""}>{escape(h)}</th>' for k, h, _ in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=paper" if k.startswith("paper") else ""}>{escape(cell(row[k], f))}</td>'
                         for k, _, f in COLUMNS) + "</tr>"
        for row in rows
    )
    classes = records[0].metrics["classes"]
    figures.overlaid_curves({r.name: r.history for r in records}, workdir / "curves.png")
    figures.per_class_accuracy_bars(
        {r.name: [r.metrics["per_class"][c]["accuracy"] for c in classes] for r in records}, classes,
        workdir / "per_class.png", title="per-class test accuracy, every run")
    parts = [
        "<h2>Comparison</h2>",
        f"<table><tr>{head}</tr>{body}</table>",
        f'<p class="sub">Purple columns: the paper\'s reported "around" values ({escape(PAPER_SOURCE)}), read off its '
        f"text, not computed here. {escape(PAPER_SUMMARY)}</p>",
        _figure((workdir / "curves.png").read_bytes(), "Learning curves of every run: validation solid, training dashed"),
        _figure((workdir / "per_class.png").read_bytes(), "Per-class test accuracy of every run"),
    ]
    best = {}  # model family (from the registry) -> its best network; baselines and ensembles have none
    for r in records:
        family = r.family
        if family and (family not in best or r.metrics["test_accuracy"] > best[family].metrics["test_accuracy"]):
            best[family] = r
    if {"ann", "cnn"} <= set(best):
        ann, cnn = best["ann"], best["cnn"]
        figures.per_class_accuracy_bars(
            {f"best ANN: {ann.name}": [ann.metrics["per_class"][c]["accuracy"] for c in classes],
             f"best CNN: {cnn.name}": [cnn.metrics["per_class"][c]["accuracy"] for c in classes]},
            classes, workdir / "ann_cnn.png", title="ANN against CNN: per-class test accuracy")
        parts.append(_figure((workdir / "ann_cnn.png").read_bytes(), "ANN against CNN (the best of each by test accuracy)"))
    matrices = "".join(_figure(png, r.name) for r in records
                       for _name, _caption, png in r.run.read_figures(["confusion_matrix.png"]))
    parts.append(f'<h3>Confusion matrices side by side</h3><div class="grid">{matrices}</div>')
    return "".join(parts)


def render_report(run_dirs, out, title: str | None = None, notes: list[str] | None = None) -> Path:
    records = [load_run(p) for p in run_dirs]
    releases = sorted({r.release for r in records})
    title = title or (f"fashionlab: {records[0].name}" if len(records) == 1 else f"fashionlab: {len(records)} runs compared")
    header = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">Dataset release: <b>{escape(", ".join(releases))}</b> · {len(records)} run(s) · '
        f"written {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by fashionlab {escape(__version__)}</p>",
    ]
    header += [f'<p class="note">{escape(n)}</p>' for n in notes or []]
    with tempfile.TemporaryDirectory() as tmp:
        comparison = _comparison(records, Path(tmp)) if len(records) > 1 else ""
    runs = "".join(_run_section(r, open_=len(records) == 1) for r in records)
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{CSS}</style></head><body>{''.join(header)}{comparison}<h2>Runs</h2>{runs}</body></html>\n"
    )
    out = Path(out)
    atomic_write_text(out, page)
    return out
