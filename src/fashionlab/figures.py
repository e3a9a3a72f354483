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


# File formats a figure can be written in, by the file name's suffix; anything else is written as PNG.
FIGURE_FORMATS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".pdf": "pdf", ".svg": "svg"}


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> None:
    """Render to memory in the format the name's suffix asks for (PNG by default), then write
    atomically: an interrupted save leaves no broken file."""
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=FIGURE_FORMATS.get(os.path.splitext(path)[1].lower(), "png"), dpi=dpi,
                bbox_inches="tight")
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
