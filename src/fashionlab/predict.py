"""From a photo or drawing to the dataset's format, and the model's top classes for it.

Fashion-MNIST items are light on a dark background, trimmed to the item and scaled so the longer
side fills the 28-pixel frame. A real image is brought to that form: grayscale (transparency
composited on white), inverted when its border is light (a dark-on-light photo), the background
level subtracted, cropped to the item's bounding box, resized keeping its aspect ratio so the
longer side is 28, centred, and stretched to the full 0-255 range.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import UserError


@dataclass
class Prepared:
    image: np.ndarray  # uint8, 28 x 28, light item on dark background
    inverted: bool
    contrast: float = 255.0  # the item's brightest pixel above the background, 0-255, before stretching


# Images larger than this are refused before decoding: a 20000 x 20000 PNG of a few kilobytes
# would take gigabytes. 50 megapixels is above any phone camera's default output.
MAX_PIXELS = 50_000_000


def _bits_declared(opened) -> int | None:
    """Bits per sample a TIFF declares (BitsPerSample), else None."""
    tags = getattr(opened, "tag_v2", None)
    if tags is None:
        return None
    bits = tags.get(258)
    if isinstance(bits, tuple):
        bits = bits[0] if bits else None
    return bits if isinstance(bits, int) and 0 < bits <= 64 else None


def _declares_unsigned(opened) -> bool:
    """A TIFF whose SampleFormat is unsigned integers (1, the default when the tag is absent)."""
    tags = getattr(opened, "tag_v2", None)
    if tags is None:
        return False
    sample_format = tags.get(339, 1)
    if isinstance(sample_format, tuple):
        sample_format = sample_format[0] if sample_format else 1
    return sample_format == 1


def _gray_0_255(image, bits: int | None, path: Path, unsigned: bool = False) -> np.ndarray:
    """The image as float32 grayscale on a 0-255 scale, by its real bit depth.

    convert("L") clips 16- and 32-bit samples at 255, which turns a 16-bit PNG into a black and
    white silhouette; integer samples are therefore scaled by their depth (declared, or the
    smallest of 8, 16 and 32 bits that holds the data), and float samples from 0-1 (or from their
    own range when outside it).
    """
    mode = image.mode
    if mode.startswith("I;16"):
        return np.asarray(image, dtype=np.float32) * (255.0 / 65535.0)
    if mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        if mode == "I" and bits == 32 and unsigned:
            # Pillow holds uint32 samples in its signed 32-bit mode: those >= 2**31 come out negative.
            values = np.asarray(image, dtype=np.int32).view(np.uint32).astype(np.float64)
        finite = np.isfinite(values)
        if not finite.any():
            raise UserError(f"{path}: the image holds no finite pixel values. Give a PNG or JPEG file.")
        low, high = float(values[finite].min()), float(values[finite].max())
        values = np.nan_to_num(values, nan=low, posinf=high, neginf=low)
        if mode == "I":
            if bits is None:
                bits = 8 if high <= 255 else 16 if high <= 65535 else 32
            top = 2.0 ** min(bits, 32) - 1
            if low >= 0 and high <= top:
                return (values * (255.0 / top)).astype(np.float32)
        elif low >= 0 and high <= 1:
            return (values * 255.0).astype(np.float32)
        span = high - low  # signed or out-of-range samples: the image's own range
        return ((values - low) * (255.0 / span if span else 0.0)).astype(np.float32)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        from PIL import Image

        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("L"), dtype=np.float32)


class ImageTooLarge(UserError):
    """An image over the pixel limit, refused before it is decoded."""


def prepare_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> Prepared:
    """A PNG, JPEG (or any format Pillow reads) file, brought to the dataset's form."""
    from .fileio import entry_kind

    path = Path(path)
    kind = entry_kind(path)
    if kind is None:
        raise UserError(f"{path}: no such file.")
    if kind != "a file":  # opening a FIFO blocks forever, a device never ends
        raise UserError(f"{path} is {kind}, not an image file. Give a PNG or JPEG file.")
    return _prepare(path, path, max_pixels, None, silence_c_stderr=True)


@contextmanager
def _c_stderr_silenced():
    """File descriptor 2 sent to a sink for the duration. libtiff writes its complaints about a
    damaged TIFF there, in C, beside the one-line error raised for it. Only for one-shot commands:
    in a threaded server it would also swallow the other threads' output."""
    import tempfile

    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    try:
        with tempfile.TemporaryFile() as sink:
            sys.stderr.flush()
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def prepare_image_bytes(data: bytes, name: str, max_pixels: int = MAX_PIXELS, formats=None) -> Prepared:
    """An uploaded image's bytes (`formats`: the Pillow formats accepted, e.g. ("PNG", "JPEG"))."""
    import io

    return _prepare(io.BytesIO(data), name, max_pixels, formats)


def _prepare(source, name, max_pixels: int, formats, silence_c_stderr: bool = False) -> Prepared:
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    too_large = (f"{name}: over the {max_pixels / 1_000_000:g} megapixels fashionlab reads. "
                 "Downscale the image (the model sees 28 x 28) and try again.")
    try:
        # Pillow's warnings about a damaged file ("Corrupt EXIF data") are held back: the error
        # below says it all when decoding fails, and they are repeated, naming the file, when it works.
        with warnings.catch_warnings(record=True) as pillow_warnings, \
                (_c_stderr_silenced() if silence_c_stderr else nullcontext()):
            warnings.simplefilter("always")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source, formats=formats) as opened:  # reads the header only
                width, height = opened.size
                if width * height > max_pixels:
                    raise ImageTooLarge(f"{name}: {width} x {height} pixels, " + too_large.split(": ", 1)[1])
                opened.load()
                bits, unsigned = _bits_declared(opened), _declares_unsigned(opened)
                image = ImageOps.exif_transpose(opened)
        gray = _gray_0_255(image, bits, name, unsigned)
    except FileNotFoundError:
        raise UserError(f"{name}: no such file.") from None
    except PermissionError as exc:
        raise UserError(f"{name}: cannot read the file ({exc.strerror}). Check its permissions.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge(too_large) from None
    except UnidentifiedImageError:  # Pillow's message names the in-memory buffer, not the file
        known = (f"not a {', '.join(formats[:-1])} or {formats[-1]} image, the formats accepted here" if formats
                 else "no format Pillow knows")
        raise UserError(f"{name}: not a readable image ({known}). Give a PNG or JPEG file.") from None
    except (OSError, SyntaxError, ValueError, TypeError, EOFError) as exc:
        raise UserError(f"{name}: not a readable image ({exc}). Give a PNG or JPEG file.") from None
    for message, category in {" ".join(str(w.message).split()): w.category for w in pillow_warnings}.items():
        warnings.warn(f"{name}: {message}", category, stacklevel=3)  # once each: Pillow repeats itself

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
    return Prepared(np.asarray(canvas, dtype=np.uint8), inverted, float(peak))


# Below this contrast (the item's peak above the background, of 255) an image holds no item: a blank
# page, a wall, a uniform photo. Stretched to full range, its noise would look like an item.
NO_ITEM_CONTRAST = 24
# Below this top-class probability the answer is flagged: the model is unsure, often because
# the image shows none of the classes (a cat, a landscape).
LOW_CONFIDENCE = 0.5


@dataclass
class Prediction:
    path: Path
    top: list[tuple[str, float]]  # (class, probability), most likely first; empty when `error`
    inverted: bool = False
    error: str | None = None  # why this file could not be read; the other files are still predicted
    notes: list[str] = field(default_factory=list)  # "no item found", "low confidence"
    image: np.ndarray | None = None  # the 28x28 input the model saw
    probabilities: np.ndarray | None = None  # every class's probability
    classes: tuple[str, ...] = ()  # the class names, in the order of `probabilities`


def prediction_notes(prepared: Prepared, ranked: list[tuple[str, float]]) -> list[str]:
    """What a reader of an answer should be told: no item in the image, or a low-confidence answer.

    `ranked`: (class, probability) pairs, most likely first (two or more).
    """
    (first, p_first), (second, p_second) = ranked[:2]
    if prepared.contrast < NO_ITEM_CONTRAST:
        return [f"no item found: the image is nearly uniform (contrast {prepared.contrast:.0f} of 255), "
                "so its classes are a guess about nothing"]
    if p_first < LOW_CONFIDENCE:
        return [f"low confidence ({p_first:.2f}): the model is unsure between {first} and {second} ({p_second:.2f}); "
                "the image may also show none of the classes, or not as the dataset shows them "
                "(one item, centred, on a plain background)"]
    return []


class Classifier:
    """A finished run's model, loaded once, scoring 28x28 uint8 images as `evaluate` scores them."""

    def __init__(self, run_dir, device: str = "auto"):
        from .data.releases import get_release
        from .evaluation import load_run_model

        self.run_dir = Path(run_dir)
        self.run = load_run_model(run_dir, device)  # in the precision `evaluate` uses (device.scoring_precision)
        self.config = self.run.config
        self.classes = get_release(self.config.release).classes

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """uint8 (N, 28, 28), light item on dark -> float (N, classes)."""
        import torch

        from .evaluation import predict_logits, to_input

        logits = predict_logits(self.run.model, to_input(images, self.run.device), channels_last=self.run.channels_last,
                                precision=self.run.precision, tta_flip=self.config.tta_flip,
                                tta_shift=self.config.tta_shift)
        return torch.softmax(logits, 1).cpu().numpy()

    def model_card(self) -> dict:
        """What a user of the model should know: where it came from and how well it did."""
        from .version import __version__
        from .models.summary import summarize
        from .runs import RunDir

        run = RunDir(self.run_dir)
        metrics = run.read_metrics() if run.metrics.is_file() else {}  # checked: /model shows its figures
        environment = run.read_environment() if run.environment.is_file() else {}
        return {
            "experiment": self.config.name, "description": self.config.description, "model": self.config.model,
            "release": environment.get("dataset", {}).get("release", self.config.release),
            "test_accuracy": metrics.get("test_accuracy"), "test_loss": metrics.get("test_loss"),
            "parameters": summarize(self.run.model).trainable, "classes": list(self.classes),
            "confusion_matrix": metrics.get("confusion_matrix"), "tta_flip": self.config.tta_flip,
            "tta_shift": self.config.tta_shift,
            "precision": self.run.precision, "device": str(self.run.device), "config": self.config.to_dict(),
            "fashionlab_version": __version__,
        }


def predict_images(run_dir, paths, top_k: int = 3, device: str = "auto") -> list[Prediction]:
    """The top classes of each image file, in order. A file that cannot be read gets a Prediction
    with its `error` set instead of stopping the rest; a bad run or `top_k` is still an error."""
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise UserError(f"--top {top_k}: give how many classes to show, 1 or more.")
    prepared: list[Prepared | UserError] = []
    for path in paths:  # every file read before the model is loaded: a bad file costs no model load
        try:
            prepared.append(prepare_image(path))
        except UserError as exc:
            prepared.append(exc)
    good = [p for p in prepared if isinstance(p, Prepared)]
    if not good:
        return [Prediction(Path(path), [], error=str(exc)) for path, exc in zip(paths, prepared)]
    classifier = Classifier(run_dir, device)
    classes = classifier.classes
    if top_k > len(classes):
        raise UserError(f"--top {top_k}: the run's release has {len(classes)} classes; give 1 to {len(classes)}.")
    probabilities = iter(classifier.probabilities(np.stack([p.image for p in good])))
    results = []
    for path, prep in zip(paths, prepared):
        if not isinstance(prep, Prepared):
            results.append(Prediction(Path(path), [], error=str(prep)))
            continue
        probs = next(probabilities)
        ranked = [(classes[i], float(probs[i])) for i in np.argsort(-probs)]
        results.append(Prediction(Path(path), ranked[:top_k], prep.inverted,
                                  notes=prediction_notes(prep, ranked), image=prep.image,
                                  probabilities=probs, classes=tuple(classes)))
    return results
