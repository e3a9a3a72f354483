"""The report of a sweep folder: one self-contained HTML file (figures embedded, no URLs).

It shows the question (base, search space, objective, sampler, pruner, budget), how many trials
completed, were pruned or failed and the time spent, the best configuration with its run linked,
the best objective per value of each categorical parameter, parameter importances, parallel
coordinates, the objective by trial, the learning curves of the top trials, and the trials table.
The table comes sorted by objective; a few lines of inline script (no remote script) re-sort it
when a column header is clicked.
"""

from __future__ import annotations

import statistics
import tempfile
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from .. import figures
from ..version import __version__
from ..fileio import atomic_write_text
from ..runs import RunDir
from ..sweep import SweepView, read_sweep
from .html import CSS, _figure, _kv_table

TOP_CURVES = 5
SORT_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function (th, col) {
  th.title = 'click to sort';
  th.addEventListener('click', function () {
    var body = th.closest('table').tBodies[0], rows = Array.from(body.rows);
    var dir = th.dataset.dir === 'asc' ? -1 : 1;
    th.dataset.dir = dir === 1 ? 'asc' : 'desc';
    function key(row) { var v = row.cells[col].dataset.v; return v === undefined ? row.cells[col].textContent : v; }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x === '' || y === '') { return (x === '') - (y === ''); }  /* blanks last, either way */
      var nx = Number(x), ny = Number(y);
      return dir * (isNaN(nx) || isNaN(ny) ? String(x).localeCompare(String(y)) : nx - ny);
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""


def _value(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e-2 or abs(v) >= 1e4 else f"{v:.4f}".rstrip("0").rstrip(".")
    return str(v)


def _cell(v, shown: str | None = None) -> str:
    key = "" if v is None else (f"{v!r}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v))
    return f'<td data-v="{escape(key)}">{escape(shown if shown is not None else _value(v))}</td>'


def _link(view: SweepView, row, out: Path) -> str:
    if row.run_dir is None:
        return "-"
    try:
        href = Path(row.run_dir).resolve().relative_to(out.parent.resolve()).as_posix()
    except ValueError:
        href = Path(row.run_dir).resolve().as_uri()
    return f'<a href="{escape(href)}/">{escape(str(Path(row.run_dir).relative_to(view.folder)))}</a>'


def _test_accuracy(row) -> float | None:
    """A completed trial's test accuracy, where its run is here (shown for information: it chose nothing)."""
    if row.state != "complete" or row.run_dir is None or not RunDir(row.run_dir).metrics.is_file():
        return None
    return RunDir(row.run_dir).read_json(RunDir(row.run_dir).metrics).get("test_accuracy")


def _per_choice(view: SweepView) -> str:
    """For each parameter with few values: trials, completed, best and median objective per value."""
    objective = view.spec.get("objective", "objective")
    pick = max if view.direction == "maximize" else min
    parts = []
    for name, dim in view.spec.get("search", {}).items():
        values = dim.get("choices")
        if values is None:
            continue
        body = []
        for value in values:
            rows = [r for r in view.rows if r.params.get(name) == value]
            done = [r.value for r in rows if r.state == "complete" and r.value is not None]
            body.append(f"<tr><td>{escape(_value(value))}</td><td>{len(rows)}</td><td>{len(done)}</td>"
                        f"<td>{sum(r.state == 'pruned' for r in rows)}</td>"
                        f"<td>{_value(pick(done)) if done else '-'}</td>"
                        f"<td>{_value(statistics.median(done)) if done else '-'}</td></tr>")
        parts.append(f"<table><tr><th>{escape(name)}</th><th>trials</th><th>completed</th><th>pruned</th>"
                     f"<th>best {escape(objective)}</th><th>median</th></tr>{''.join(body)}</table>")
    return ("<h2>Each value's best</h2><p class=\"sub\">Over the completed trials that drew the value.</p>"
            + "".join(parts)) if parts else ""


def _describe(dim: dict) -> str:
    if "choices" in dim:
        return ", ".join(_value(v) for v in dim["choices"])
    text = f"{_value(dim['low'])} to {_value(dim['high'])}"
    return text + (" (log scale)" if dim.get("log") else "") + (f", step {_value(dim['step'])}" if dim.get("step") else "")


def _spec_section(view: SweepView) -> str:
    spec = view.spec
    search = "".join(f"<tr><td>{escape(k)}</td><td>{escape(_describe(d))}</td></tr>" for k, d in spec.get("search", {}).items())
    budget = " and ".join(x for x in (f"{spec['trials']} trials" if spec.get("trials") else "",
                                      f"{spec['time_limit_minutes']:g} minutes per worker"
                                      if spec.get("time_limit_minutes") else "") if x)
    settings = {
        "base experiment": spec.get("base"), "fixed keys ([set])": ", ".join(f"{k} = {v}" for k, v in spec.get("set", {}).items()) or "-",
        "objective": f"{spec.get('objective')} ({view.direction}; the validation split, never the test set)",
        "sampler": f"{spec.get('sampler')} (seed {spec.get('seed')})",
        "pruner": spec.get("pruner") if spec.get("pruner") == "none" else
        f"{spec.get('pruner')} (every trial runs {spec.get('pruner_warmup_epochs')} epoch(s) first)",
        "budget": budget or "-", "storage": view.storage,
    }
    return (f"<h2>The question</h2><p>{escape(spec.get('description', ''))}</p>{_kv_table(settings)}"
            f"<table><tr><th>searched key</th><th>values</th></tr>{search}</table>")


def render_sweep_report(folder, out=None, storage_url: str | None = None) -> Path:
    view = read_sweep(folder, storage_url)
    out = Path(out) if out is not None else view.folder / "report.html"
    objective = view.spec.get("objective", "objective")
    counts = view.counts()
    spent = sum(r.seconds or 0 for r in view.rows if r.state != "not run")
    cards = "".join(
        f'<div class="card">{escape(label)}<b>{escape(value)}</b></div>'
        for label, value in [("completed", str(counts["complete"])), ("pruned", str(counts["pruned"])),
                             ("failed", str(counts["failed"])), ("running", str(counts["running"])),
                             ("trial time", f"{spent / 60:,.1f} min"),
                             ("wall time", "-" if view.wall_seconds is None else f"{view.wall_seconds / 60:,.1f} min")])
    extra = [f"{counts[k]} {k}" for k in ("waiting", "not run") if counts[k]]
    parts = [f'<div class="cards">{cards}</div>']
    if extra:
        parts.append(f'<p class="sub">Also {", ".join(extra)} (a trial "not run" was closed unstarted because '
                     "another worker took the budget's last slot at the same moment).</p>")
    parts.append(_spec_section(view))

    best = view.best
    if best is not None:
        test = _test_accuracy(best)
        params = {k: _value(v) for k, v in best.params.items()}
        params[objective] = _value(best.value)
        if test is not None:
            params["test accuracy (for information)"] = f"{test:.4f}"
        parts.append(f"<h2>Best configuration: trial {best.number}</h2>{_kv_table(params)}"
                     f"<p>Run directory: {_link(view, best, out)}"
                     + ("" if best.run_dir else " (it ran on another machine: its run directory is there)") + "</p>")
    else:
        parts.append("<h2>Best configuration</h2><p>No trial has completed yet.</p>")
    parts.append(_per_choice(view))

    scored = [r for r in view.rows if r.state == "complete" and r.value is not None]
    log_keys = {k for k, d in view.spec.get("search", {}).items() if d.get("log")}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        parts.append("<h2>Parameter importance</h2>")
        if view.importances:
            figures.importance_bars(view.importances, tmp / "importance.png")
            parts.append(_figure((tmp / "importance.png").read_bytes(), view.importance_note))
        else:
            parts.append(f"<p>{escape(view.importance_note)}</p>")
        if len(scored) >= 2:
            names = list(view.importances or scored[0].params)
            figures.parallel_coordinates({n: [r.params.get(n) for r in scored] for n in names},
                                         [r.value for r in scored], tmp / "parallel.png", objective, log_scale=log_keys)
            parts.append(_figure((tmp / "parallel.png").read_bytes(),
                                 "Parallel coordinates of the completed trials (axes by importance), coloured by objective"))
        points = [(r.number, r.value, r.state) for r in view.rows if r.value is not None]
        if points:
            figures.optimization_history(points, tmp / "history.png", objective, view.direction == "maximize")
            parts.append(_figure((tmp / "history.png").read_bytes(),
                                 "The objective by trial number: completed trials, pruned ones, and the best so far"))
        top = [r for r in view.ranked() if r.run_dir is not None and r.state in ("complete", "pruned")][:TOP_CURVES]
        histories = {f"trial {r.number} ({r.state})": [RunDir(r.run_dir).read_history()] for r in top
                     if RunDir(r.run_dir).history.is_file()}  # one run per curve (figures takes seed groups)
        if histories:
            figures.overlaid_curves(histories, tmp / "curves.png", title=f"the top {len(histories)} trials")
            parts.append(_figure((tmp / "curves.png").read_bytes(),
                                 f"Learning curves of the top {len(histories)} trials by {objective}: "
                                 "validation solid, training dashed"))
    parts.append(_trials_table(view, out))

    release = "unknown"
    for r in view.ranked():
        if r.run_dir is not None and RunDir(r.run_dir).environment.is_file():
            release = RunDir(r.run_dir).read_json(RunDir(r.run_dir).environment).get("dataset", {}).get("release", release)
            break
    title = f"fashionlab sweep: {view.study}"
    header = (f"<h1>{escape(title)}</h1><p class=\"sub\">Dataset release: <b>{escape(release)}</b> · "
              f"{len(view.rows)} trial(s) · written {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} "
              f"by fashionlab {escape(__version__)}</p>")
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{CSS}th{{cursor:pointer}}</style></head><body>{header}{''.join(parts)}"
            f"<script>{SORT_SCRIPT}</script></body></html>\n")
    atomic_write_text(out, page)
    return out


def _trials_table(view: SweepView, out: Path) -> str:
    objective = view.spec.get("objective", "objective")
    keys = list(view.spec.get("search", {})) or sorted({k for r in view.rows for k in r.params})
    head = "".join(f"<th>{escape(h)}</th>" for h in ["trial", "state", objective, *keys, "epochs", "seconds",
                                                      "test acc", "run directory", "note"])
    body = []
    for r in view.ranked():
        note = "; ".join(filter(None, [f"retry of {', '.join(map(str, r.retry_of))}" if r.retry_of else "", r.diverged]))
        body.append("<tr>" + _cell(r.number) + _cell(r.state) + _cell(r.value)
                    + "".join(_cell(r.params.get(k)) for k in keys) + _cell(r.epochs)
                    + _cell(None if r.seconds is None else round(r.seconds, 1))
                    + _cell(_test_accuracy(r)) + f"<td>{_link(view, r, out)}</td>" + _cell(note) + "</tr>")
    return (f"<h2>Trials</h2><p class=\"sub\">Best {escape(objective)} first (completed, then pruned at their last "
            "reported value, then the rest); click a column header to sort by it. Test accuracy is shown for "
            "information only: no choice was made on it.</p>"
            f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')

