"""Figures as PNG files. matplotlib runs headless (Agg), so these work on servers and in CI.

Drawing only: no run directory, no report. A run's own figures are files of its run directory,
written by runs.py (their owner, with their names and captions in runs.RUN_FIGURES) when the run
finishes, so the training engine needs nothing from report/; report/ draws its comparison
figures with the same functions. That is why this module sits below both, not inside report/.

Text that a user wrote (experiment names, labels, descriptions) goes through `plain`, so that a
`$` in a name is drawn as a dollar sign, not parsed as matplotlib mathtext (which can fail).
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np

from .fileio import atomic_write_bytes

DPI = 150  # sharp when a report opens a figure full size; save_figure keeps the PNG small
_VALUE_LABEL_SIZE = {1: 8, 2: 7}  # bar value labels by the number of bars per class; more bars: 6.5, vertical


def plain(text) -> str:
    """User text drawn as written: an unescaped `$` would switch matplotlib to mathtext."""
    return str(text).replace("$", r"\$")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.usetex"] = False  # a user's matplotlibrc must not send names through LaTeX
    warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")  # save_figure says it once
    import matplotlib.pyplot as plt

    return plt


# File formats a figure can be written in, by the file name's suffix; anything else is written as PNG.
FIGURE_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".pdf": "pdf", ".svg": "svg"}


def save_figure(fig, path: str | os.PathLike, dpi: int = DPI) -> None:
    """Render to memory in the format the name's suffix asks for (PNG by default), then write
    atomically: an interrupted save leaves no broken file."""
    plt = _pyplot()
    buffer = io.BytesIO()
    fmt = FIGURE_FORMATS.get(os.path.splitext(path)[1].lower(), "png")
    _warn_once_about_missing_glyphs(fig)
    fig.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    atomic_write_bytes(path, _palette_png(buffer.getvalue()) if fmt == "png" else buffer.getvalue())


_glyphs_warned_about: set[str] = set()


def _warn_once_about_missing_glyphs(fig) -> None:
    """One line, once per process, for the characters the font lacks (matplotlib's own warning,
    silenced in _pyplot, says it once per character and figure: a dozen lines for a CJK label)."""
    from matplotlib import font_manager, ft2font, text

    chars = {c for t in fig.findobj(text.Text) for c in t.get_text() if not c.isascii()} - _glyphs_warned_about
    if not chars:
        return
    font = ft2font.FT2Font(font_manager.findfont(font_manager.FontProperties()))
    missing = "".join(sorted(c for c in chars if font.get_char_index(ord(c)) == 0))
    _glyphs_warned_about.update(chars)
    if missing:
        warnings.warn(f"the figures' font ({font.family_name}) has no glyph for {missing!r}, drawn as empty boxes; "
                      "install a font that has them (e.g. Noto Sans CJK) to see them.", stacklevel=3)


def _palette_png(png: bytes) -> bytes:
    """The same picture with a 256-colour palette: plots use few colours, and the file is 2-4x smaller,
    which keeps a report that embeds dozens of figures at a few MB."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, "PNG")
    return out.getvalue() if out.tell() < len(png) else png


def _epoch_axis(ax, longest: int) -> None:
    """Whole epochs only (no 2.5); a log scale when 1000-epoch ANNs sit beside 50-epoch CNNs."""
    from matplotlib.ticker import MaxNLocator, ScalarFormatter

    if longest > 60:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.set_xlabel("epoch (log scale)")
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")


def _legend_below(fig, handles, labels, columns: int) -> None:
    """A legend under the axes, where it covers no data (save_figure's tight box takes it in)."""
    if handles:
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=max(1, columns),
                   fontsize=8, frameon=False)


def sample_grid(images: np.ndarray, labels: np.ndarray, classes, path, per_class: int = 10, seed: int = 0) -> None:
    """One row per class of `per_class` random samples, labelled, like the official sprite."""
    plt = _pyplot()
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(classes), per_class, figsize=(per_class * 0.8 + 1.6, len(classes) * 0.8))
    axes = np.atleast_2d(axes)
    for row, name in enumerate(classes):
        members = np.flatnonzero(labels == row)
        picks = rng.choice(members, size=min(per_class, members.size), replace=False) if members.size else []
        for col in range(per_class):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if col < len(picks):
                ax.imshow(images[picks[col]], cmap="gray", vmin=0, vmax=255)
        axes[row, 0].set_ylabel(plain(name), rotation=0, ha="right", va="center", fontsize=9)
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    save_figure(fig, path)


def learning_curves(history: list[dict], path, title: str = "") -> None:
    """Accuracy and loss per epoch, train against validation (the paper's Figures 6 and 7)."""
    plt = _pyplot()
    epochs = [r["epoch"] for r in history]
    marker = "." if len(epochs) < 30 else None
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric in ((ax_acc, "accuracy"), (ax_loss, "loss")):
        ax.plot(epochs, [r[f"train_{metric}"] for r in history], label="train", marker=marker)
        validated = [r for r in history if r[f"val_{metric}"] is not None]  # every epoch unless validation_freq > 1
        ax.plot([r["epoch"] for r in validated], [r[f"val_{metric}"] for r in validated], label="validation",
                marker=marker or ("." if len(validated) < len(history) else None))
        _epoch_axis(ax, 0)  # one run: a linear axis, however long
        ax.set_ylabel(metric)
        ax.set_title(f"model {metric}")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(plain(title))
    fig.tight_layout()
    _legend_below(fig, *ax_acc.get_legend_handles_labels(), 2)
    save_figure(fig, path)


def confusion_matrix_figure(matrix, classes, path, title: str = "", normalize: bool = False) -> None:
    """Heatmap with class names and counts (or row-normalised shares); counts may be a mean (of seeds)."""
    plt = _pyplot()
    cm = np.asarray(matrix, dtype=float)
    shown = cm / np.maximum(cm.sum(1, keepdims=True), 1) if normalize else cm
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    image = ax.imshow(shown, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    k = len(classes)
    names = [plain(c) for c in classes]
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = shown.max() / 2 if shown.size else 0
    for i in range(k):
        for j in range(k):
            text = f"{shown[i, j]:.2f}" if normalize else f"{cm[i, j]:.0f}"  # a seed group's mean counts, rounded
            ax.text(j, i, text, ha="center", va="center", fontsize=8.5 if k <= 10 else 6,
                    color="white" if shown[i, j] > threshold else "black")
    if title:
        ax.set_title(plain(title))
    fig.tight_layout()
    save_figure(fig, path)


def per_class_accuracy_bars(series: dict[str, list[float]], classes, path, title: str = "",
                            errors: dict[str, list[float]] | None = None) -> None:
    """Grouped bars side by side: per-class test accuracy of one or more runs (`series`: label -> values),
    from 0 with each value written on its bar. `errors`: label -> standard deviations (seed groups)."""
    plt = _pyplot()
    k, n = len(classes), max(len(series), 1)
    width = 0.8 / n
    fig, ax = plt.subplots(figsize=(min(13, max(7, k * 0.28 * n + 2)), 4.2))
    for i, (name, values) in enumerate(series.items()):
        err = (errors or {}).get(name)
        x = np.arange(k) + (i - (n - 1) / 2) * width
        ax.bar(x, values, width * 0.92, label=plain(name), yerr=err, capsize=2 if err is not None else 0,
               error_kw={"elinewidth": 0.8})
        tops = np.asarray(values) + (np.asarray(err) if err is not None else 0)
        for xi, top, value in zip(x, tops, values):  # above the bar, or above its error bar
            ax.text(xi, top + 0.012, f"{value:.2f}", ha="center", va="bottom", rotation=0 if n <= 2 else 90,
                    fontsize=_VALUE_LABEL_SIZE.get(n, 6.5))
    ax.set_xticks(range(k), [plain(c) for c in classes], rotation=30, ha="right")
    ax.set_xlim(-0.5, k - 0.5)
    ax.set_ylabel("test accuracy")
    top = max((v + (e or 0) for name, vs in series.items() for v, e in zip(vs, (errors or {}).get(name) or [None] * k)),
              default=1.0)
    ax.set_ylim(0.0, max(1.0, top) + (0.1 if n <= 2 else 0.17))  # room for the value labels above the bars
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(plain(title))
    fig.tight_layout()
    if n > 1:
        handles, labels = ax.get_legend_handles_labels()
        _legend_below(fig, handles, labels, min(n, 3))
    save_figure(fig, path)


def misclassified_grid(images, labels, probabilities, classes, path, count: int = 24, columns: int = 8) -> None:
    """The test images the model got wrong with the highest confidence, with true and predicted labels."""
    plt = _pyplot()
    predicted = probabilities.argmax(1)
    wrong = np.flatnonzero(predicted != labels)
    order = wrong[np.argsort(-probabilities[wrong, predicted[wrong]])][:count]
    rows = max(1, -(-len(order) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.35, rows * 2.0))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, i in zip(np.atleast_1d(axes).ravel(), order):
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"true: {plain(classes[labels[i]])}\npred: {plain(classes[predicted[i]])}\n"
                     f"{probabilities[i, predicted[i]]:.2f}", fontsize=8)
    if not len(order):
        fig.text(0.5, 0.5, "no misclassified test images", ha="center")
    fig.suptitle("Most confidently misclassified test images", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def model_diagram(rows, path, title: str = "") -> None:
    """The layer stack with output shapes, like Keras's plot_model(show_shapes=True); a row whose
    `skip_from` is set (models.summary.LayerRow) gets the residual connection drawn into it."""
    plt = _pyplot()
    boxes = [("InputLayer", "(None, 28, 28, 1)")] + [
        (r.name, "(" + ", ".join("None" if d is None else str(d) for d in r.output_shape) + ")") for r in rows
    ]
    skips = [(r.skip_from + 1, i) for i, r in enumerate(rows, start=1) if getattr(r, "skip_from", None) is not None]
    step = 0.6  # inches per box: room for an arrow between boxes
    fig, ax = plt.subplots(figsize=(5.0 if skips else 4.0, len(boxes) * step + 0.5))
    ax.set_xlim(0, 1)
    ax.set_ylim(-len(boxes) + 0.4, 0.6)
    ax.axis("off")
    style = dict(ha="center", va="center", fontsize=9, family="monospace")
    texts = []
    for i, (name, shape) in enumerate(boxes):
        texts.append(ax.text(0.4 if skips else 0.5, -i, f"{name}\n{shape}", **style,
                             bbox=dict(boxstyle="round,pad=0.3", facecolor="#eef3fb", edgecolor="#4a6fa5")))
        if i:
            x = 0.4 if skips else 0.5
            ax.annotate("", xy=(x, -i + 0.3), xytext=(x, -i + 0.7), arrowprops=dict(arrowstyle="->", color="#4a6fa5"))
    if skips:  # out of the right edge of the source box, down, and into the right edge of the target
        fig.canvas.draw()
        to_data = ax.transData.inverted()
        right = [to_data.transform(t.get_bbox_patch().get_window_extent())[1][0] for t in texts]
        for source, target in skips:
            out = max(right[source : target + 1]) + 0.07
            ax.plot([right[source], out, out], [-source, -source, -target], color="#c0562b", lw=1.2)
            ax.annotate("", xy=(right[target], -target), xytext=(out, -target),
                        arrowprops=dict(arrowstyle="->", color="#c0562b", lw=1.2, shrinkA=0, shrinkB=0))
            ax.text(out + 0.02, -(source + target) / 2, "+ residual", rotation=90, ha="left", va="center",
                    fontsize=7, color="#c0562b")
    if title:
        ax.set_title(plain(title), fontsize=10)
    save_figure(fig, path)


def _mean_sd(histories: list[list[dict]], key: str):
    """Per epoch over the runs of a group (as far as all of them went): epochs, mean, sample sd.

    Epochs that some run left unvalidated (validation_freq) are left out of a validation curve."""
    length = min(len(h) for h in histories)
    values = np.array([[h[i][key] for i in range(length)] for h in histories], dtype=float)  # None: NaN
    sd = values.std(0, ddof=1) if len(histories) > 1 else np.zeros(length)
    kept = np.isfinite(values).all(0)
    return [histories[0][i]["epoch"] for i in range(length) if kept[i]], values.mean(0)[kept], sd[kept]


def overlaid_curves(curves: dict[str, list[list[dict]]], path, title: str = "") -> None:
    """Validation (solid) and training (dashed) accuracy and loss of several runs on shared axes.

    `curves`: label -> the histories of its runs; one history is drawn as is, several (a seed group)
    as their mean with a band of one standard deviation around the validation curve. Labels without
    any epochs (baselines, ensembles) are left out: they have no curve to show.
    """
    from matplotlib.lines import Line2D

    plt = _pyplot()
    curves = {label: [h for h in hs if h] for label, hs in curves.items()}
    curves = {label: hs for label, hs in curves.items() if hs}
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    longest = max((len(h) for hs in curves.values() for h in hs), default=1)
    handles, labels = [], []
    for i, (label, histories) in enumerate(curves.items()):
        color = colors[i % len(colors)]
        length = min(len(h) for h in histories)
        marker = "o" if length <= 30 else None  # a 1-epoch run is a point, not an invisible line
        for ax, metric in ((ax_acc, "accuracy"), (ax_loss, "loss")):
            epochs, mean, sd = _mean_sd(histories, f"val_{metric}")  # fewer epochs under validation_freq: points
            line, = ax.plot(epochs, mean, color=color, marker=marker or ("o" if len(epochs) < length else None),
                            markersize=4)
            if len(histories) > 1:
                ax.fill_between(epochs, mean - sd, mean + sd, color=color, alpha=0.2, linewidth=0)
            epochs, mean, _ = _mean_sd(histories, f"train_{metric}")
            ax.plot(epochs, mean, color=color, marker=marker, markersize=2.5, linestyle="--", alpha=0.6)
        handles.append(line)
        labels.append(plain(label) + (f" (mean ± sd, n={len(histories)})" if len(histories) > 1 else ""))
    losses = [r[k] for hs in curves.values() for h in hs for r in h for k in ("train_loss", "val_loss") if r[k] is not None]
    if losses and min(losses) > 0 and max(losses) / min(losses) > 30:  # an overfitting ANN's loss at 10 flattens the rest
        ax_loss.set_yscale("log")
    for ax, metric in ((ax_acc, "accuracy"), (ax_loss, "loss" + (" (log scale)" if ax_loss.get_yscale() == "log" else ""))):
        _epoch_axis(ax, longest)
        ax.set_ylabel(metric)
        ax.set_title(metric.split(" (")[0])
        ax.grid(alpha=0.3)
    handles += [Line2D([], [], color="0.3"), Line2D([], [], color="0.3", linestyle="--")]
    labels += ["validation", "training"]
    fig.suptitle(plain(title) if title else "learning curves: validation solid, training dashed")
    fig.tight_layout()
    _legend_below(fig, handles, labels, min(len(handles), 4))
    save_figure(fig, path)


def importance_bars(importances: dict[str, float], path, title: str = "") -> None:
    """Horizontal bars of parameter importances, the most important on top."""
    plt = _pyplot()
    names = list(importances)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2))
    ax.barh(names, [importances[n] for n in names], color="#4a6fa5")
    for y, name in enumerate(names):
        ax.text(importances[name], y, f" {importances[name]:.2f}", va="center", fontsize=8)
    ax.set_xlim(0, max(importances.values(), default=1) * 1.15 or 1)
    ax.set_xlabel("importance (share of the objective's variation)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or "parameter importance")
    fig.tight_layout()
    save_figure(fig, path)


def parallel_coordinates(params: dict[str, list], objective: list[float], path, objective_name: str,
                         log_scale=(), title: str = "") -> None:
    """One vertical axis per parameter, then the objective; one line per trial, coloured by its objective.

    Text values are spread evenly along their axis; numbers are scaled to their range (log10 for
    `log_scale` keys), with the range's ends and middle labelled.
    """
    plt = _pyplot()
    columns = {**params, objective_name: list(objective)}
    positions, labels = {}, {}
    for name, values in columns.items():
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raw = np.log10(np.asarray(values, dtype=float)) if name in log_scale else np.asarray(values, dtype=float)
            finite = raw[np.isfinite(raw)]
            low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
            span = (high - low) or 1.0
            positions[name] = np.clip(np.where(np.isfinite(raw), (raw - low) / span, 0.0), 0, 1)
            show = (lambda t: f"{10 ** t:.3g}") if name in log_scale else (lambda t: f"{t:.4g}")
            labels[name] = [(0.0, show(low)), (0.5, show(low + span / 2)), (1.0, show(high))] if high > low \
                else [(0.0, show(low))]
        else:
            order = sorted({str(v) for v in values}, key=lambda s: [str(v) for v in values].index(s))
            step = 1 / max(1, len(order) - 1)
            positions[name] = np.array([order.index(str(v)) * step for v in values]) if len(order) > 1 \
                else np.full(len(values), 0.5)
            labels[name] = [(i * step if len(order) > 1 else 0.5, s) for i, s in enumerate(order)]
    names = list(columns)
    fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(names)), 4.6))
    cmap = plt.get_cmap("viridis")
    values = np.asarray(objective, dtype=float)
    finite = values[np.isfinite(values)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    norm = plt.Normalize(low, high) if high > low else plt.Normalize(low - 1, high + 1)  # all equal: one colour
    for i in np.argsort(np.where(np.isfinite(values), values, low)):  # the best-coloured lines drawn last
        ax.plot(range(len(names)), [positions[n][i] for n in names], color=cmap(norm(values[i])), alpha=0.8, lw=1.4)
    for x, name in enumerate(names):
        ax.axvline(x, color="#333", lw=0.8)
        for y, text in labels[name]:
            ax.text(x + 0.03, y, text, fontsize=7, va="center", ha="left",
                    bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.8))
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(names) - 0.6)
    ax.set_ylim(-0.05, 1.05)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, fraction=0.03, pad=0.02, label=objective_name)
    ax.set_title(title or "parallel coordinates: one line per completed trial")
    fig.tight_layout()
    save_figure(fig, path)


def optimization_history(points: list[tuple[int, float, str]], path, objective_name: str, maximize: bool,
                         title: str = "") -> None:
    """Each trial's objective by trial number (pruned ones at their last reported value), and the best so far."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    styles = {"complete": dict(marker="o", color="#4a6fa5", label="completed"),
              "pruned": dict(marker="x", color="#c0504d", label="pruned (last reported value)")}
    for state, style in styles.items():
        chosen = [(n, v) for n, v, s in points if s == state and np.isfinite(v)]
        if chosen:
            ax.scatter(*zip(*chosen), s=22, **style)
    best, line = None, []
    for n, v, s in sorted(points):
        if s == "complete" and np.isfinite(v):
            best = v if best is None else (max(best, v) if maximize else min(best, v))
        if best is not None:
            line.append((n, best))
    if line:
        ax.step(*zip(*line), where="post", color="#2c7a2c", label="best so far")
    ax.set_xlabel("trial number")
    ax.set_ylabel(objective_name)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or f"{objective_name} by trial")
    fig.tight_layout()
    save_figure(fig, path)
