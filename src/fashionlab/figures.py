"""Figures as PNG files. matplotlib runs headless (Agg), so these work on servers and in CI.

Drawing only: no run directory, no report. A run's own figures are files of its run directory,
written by runs.py (their owner, with their names and captions in runs.RUN_FIGURES) when the run
finishes, so the training engine needs nothing from report/; report/ draws its comparison
figures with the same functions. That is why this module sits below both, not inside report/.
"""

from __future__ import annotations

import io
import os

import numpy as np

from .fileio import atomic_write_bytes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> None:
    """Render to memory, then write atomically: an interrupted save leaves no broken PNG."""
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


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
        axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    save_figure(fig, path)


def learning_curves(history: list[dict], path, title: str = "") -> None:
    """Accuracy and loss per epoch, train against validation (the paper's Figures 6 and 7)."""
    plt = _pyplot()
    epochs = [r["epoch"] for r in history]
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric, label in ((ax_acc, "accuracy", "accuracy"), (ax_loss, "loss", "loss")):
        ax.plot(epochs, [r[f"train_{metric}"] for r in history], label="train", marker="." if len(epochs) < 30 else None)
        ax.plot(epochs, [r[f"val_{metric}"] for r in history], label="validation", marker="." if len(epochs) < 30 else None)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_title(f"model {label}")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)


def confusion_matrix_figure(matrix, classes, path, title: str = "", normalize: bool = False) -> None:
    """Heatmap with class names and counts (or row-normalised shares)."""
    plt = _pyplot()
    cm = np.asarray(matrix, dtype=float)
    shown = cm / np.maximum(cm.sum(1, keepdims=True), 1) if normalize else cm
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    image = ax.imshow(shown, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    k = len(classes)
    ax.set_xticks(range(k), classes, rotation=45, ha="right")
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = shown.max() / 2 if shown.size else 0
    for i in range(k):
        for j in range(k):
            text = f"{shown[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > threshold else "black")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    save_figure(fig, path)


def per_class_accuracy_bars(series: dict[str, list[float]], classes, path, title: str = "") -> None:
    """Grouped bars: per-class test accuracy of one or more runs (`series`: run name -> values)."""
    plt = _pyplot()
    k, n = len(classes), max(len(series), 1)
    width = 0.8 / n
    fig, ax = plt.subplots(figsize=(min(12, max(7, k * 0.3 * n + 2)), 4))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(np.arange(k) + (i - (n - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(range(k), classes, rotation=30, ha="right")
    ax.set_ylabel("test accuracy")
    low = min((min(v) for v in series.values()), default=0)
    ax.set_ylim(max(0.0, low - 0.05), 1.0)
    ax.grid(axis="y", alpha=0.3)
    if n > 1:
        ax.legend(fontsize=8, ncol=min(n, 3))
    if title:
        ax.set_title(title)
    fig.tight_layout()
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
        ax.set_title(f"true: {classes[labels[i]]}\npred: {classes[predicted[i]]}\n{probabilities[i, predicted[i]]:.2f}",
                     fontsize=7)
    if not len(order):
        fig.text(0.5, 0.5, "no misclassified test images", ha="center")
    fig.suptitle("Most confidently misclassified test images", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def model_diagram(rows, path, title: str = "") -> None:
    """The layer stack with output shapes, like Keras's plot_model(show_shapes=True)."""
    plt = _pyplot()
    boxes = [("InputLayer", "(None, 28, 28, 1)")] + [
        (r.name, "(" + ", ".join("None" if d is None else str(d) for d in r.output_shape) + ")") for r in rows
    ]
    height = len(boxes) * 0.55 + 0.6
    fig, ax = plt.subplots(figsize=(4.6, height))
    ax.set_xlim(0, 1)
    ax.set_ylim(-len(boxes) + 0.3, 1)
    ax.axis("off")
    for i, (name, shape) in enumerate(boxes):
        y = -i
        ax.text(0.5, y, f"{name}\n{shape}", ha="center", va="center", fontsize=8, family="monospace",
                bbox=dict(boxstyle="round,pad=0.35", facecolor="#eef3fb", edgecolor="#4a6fa5"))
        if i:
            ax.annotate("", xy=(0.5, y + 0.28), xytext=(0.5, y + 0.72), arrowprops=dict(arrowstyle="->", color="#4a6fa5"))
    if title:
        ax.set_title(title, fontsize=10)
    save_figure(fig, path)


def overlaid_curves(histories: dict[str, list[dict]], path, title: str = "") -> None:
    """Validation (solid) and training (dashed) accuracy and loss of several runs on shared axes."""
    plt = _pyplot()
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    longest = max((len(h) for h in histories.values()), default=1)
    for i, (name, history) in enumerate(histories.items()):
        color = colors[i % len(colors)]
        epochs = [r["epoch"] for r in history]
        marker = "o" if len(history) <= 30 else None  # a 1-epoch run is a point, not an invisible line
        for ax, metric in ((ax_acc, "accuracy"), (ax_loss, "loss")):
            ax.plot(epochs, [r[f"val_{metric}"] for r in history], color=color, marker=marker, label=f"{name} val")
            ax.plot(epochs, [r[f"train_{metric}"] for r in history], color=color, marker=marker, markersize=3,
                    linestyle="--", alpha=0.6)
    for ax, metric in ((ax_acc, "accuracy"), (ax_loss, "loss")):
        ax.set_xlabel("epoch" + (" (log scale)" if longest > 60 else ""))
        ax.set_ylabel(metric)
        if longest > 60:  # 1000-epoch ANNs beside 50-epoch CNNs
            from matplotlib.ticker import ScalarFormatter

            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=7)
    fig.suptitle(title or "learning curves: validation solid, training dashed")
    fig.tight_layout()
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
