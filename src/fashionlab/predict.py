"""From a photo or drawing to the dataset's format, and the model's top classes for it.

Fashion-MNIST items are light on a dark background, trimmed to the item and scaled so the longer
side fills the 28-pixel frame. A real image is brought to that form: grayscale (transparency
composited on white), inverted when its border is light (a dark-on-light photo), the background
level subtracted, cropped to the item's bounding box, resized keeping its aspect ratio so the
longer side is 28, centred, and stretched to the full 0-255 range.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError


@dataclass
class Prepared:
    image: np.ndarray  # uint8, 28 x 28, light item on dark background
    inverted: bool


def prepare_image(path: str | Path) -> Prepared:
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UserError(f"{path}: not a readable image ({exc}). Give a PNG or JPEG file.") from None
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    gray = np.asarray(image.convert("L"), dtype=np.float32)

    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    inverted = bool(np.median(border) > 127)
    if inverted:
        gray = 255.0 - gray
        border = 255.0 - border
    gray = np.clip(gray - np.median(border), 0, None)

    peak = gray.max()
    if peak > 0:
        rows = np.flatnonzero((gray > 0.1 * peak).any(1))
        cols = np.flatnonzero((gray > 0.1 * peak).any(0))
        gray = gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        gray = gray * (255.0 / peak)
    h, w = gray.shape
    scale = 28 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    item = Image.fromarray(gray.clip(0, 255).astype(np.uint8)).resize(size, Image.Resampling.LANCZOS)
    canvas = Image.new("L", (28, 28), 0)
    canvas.paste(item, ((28 - size[0]) // 2, (28 - size[1]) // 2))
    return Prepared(np.asarray(canvas, dtype=np.uint8), inverted)


@dataclass
class Prediction:
    path: Path
    top: list[tuple[str, float]]  # (class, probability), most likely first
    inverted: bool


def predict_images(run_dir, paths, top_k: int = 3, device: str = "auto") -> list[Prediction]:
    import torch

    from .data.releases import get_release
    from .evaluation import load_run_model, predict_logits, to_input

    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise UserError(f"--top {top_k}: give how many classes to show, 1 or more.")
    prepared = [prepare_image(p) for p in paths]  # every file checked before any work
    run = load_run_model(run_dir, device)  # scored in the precision `evaluate` uses (device.scoring_precision)
    classes = get_release(run.config.release).classes
    if top_k > len(classes):
        raise UserError(f"--top {top_k}: the run's release has {len(classes)} classes; give 1 to {len(classes)}.")
    x = to_input(np.stack([p.image for p in prepared]), run.device)
    logits = predict_logits(run.model, x, channels_last=run.channels_last, precision=run.precision,
                            tta_flip=run.config.tta_flip)
    probabilities = torch.softmax(logits, 1).cpu().numpy()
    results = []
    for path, prep, probs in zip(paths, prepared, probabilities):
        order = np.argsort(-probs)[:top_k]
        results.append(Prediction(Path(path), [(classes[i], float(probs[i])) for i in order], prep.inverted))
    return results
