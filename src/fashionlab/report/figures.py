"""Figures as PNG files. matplotlib runs headless (Agg), so these work on servers and in CI."""

from __future__ import annotations

import io
import os

import numpy as np

from ..fileio import atomic_write_bytes


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
