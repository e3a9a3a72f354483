"""The web service: one trained run, its model loaded once, answering JSON and serving one page.

    POST /predict          one or more image files (PNG, JPEG, WebP) as multipart form data
    POST /predict/batch    a JSON array of 28x28 arrays of pixel values 0-255 (the dataset's form)
    GET  /model            the model card: experiment, release, accuracy, parameters, config, confusion matrix
    GET  /health           liveness
    GET  /                 the page (self-contained: no CDN, works offline)
    GET  /docs             FastAPI's OpenAPI docs

Every bad request gets a 4xx JSON answer {"error": "..."} and the server keeps serving: uploads
over `max_upload_mb` (413, checked on Content-Length and again while the body streams in), images
over `max_pixels` (413, before decoding), non-images and wrong content types (415), empty bodies,
malformed JSON, wrong shapes and non-finite values (400/422).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
from importlib import resources
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from ..errors import UserError
from ..predict import Classifier, ImageTooLarge, prepare_image_bytes

IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp"}
MAX_BATCH = 1024
MAX_FILES = 32

# python-multipart logs each parse error it then raises; the client gets that error as a 400, so the
# server's log would only gain a stray line without a request to place it ("Expected boundary character").
# Its module is `python_multipart` since 0.0.13 and `multipart` before.
for _name in ("python_multipart", "multipart"):
    logging.getLogger(_name).setLevel(logging.ERROR)


class TooLarge(Exception):
    """The request body passed the upload limit while streaming in."""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class BodyLimit:
    """ASGI middleware: refuse bodies over `limit` bytes, by Content-Length and while they stream in."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _error(413, self._message())(scope, receive, send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise TooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except TooLarge:
            await _error(413, self._message())(scope, receive, send)

    def _message(self) -> str:
        return f"request body over the server's upload limit of {self.limit / 2**20:g} MB (--max-upload-mb)"


def _png_data_url(image: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _answer(classifier: Classifier, probs: np.ndarray, top_k: int) -> dict:
    order = np.argsort(-probs)[:top_k]
    return {
        "top": [{"class": classifier.classes[i], "probability": float(probs[i])} for i in order],
        "probabilities": {name: float(p) for name, p in zip(classifier.classes, probs)},
    }


def create_app(run_dir, max_upload_mb: float = 5.0, max_pixels: int = 25_000_000, device: str = "cpu",
               top_k: int = 3) -> FastAPI:
    classifier = Classifier(run_dir, device=device)
    card = classifier.model_card()
    page = resources.files("fashionlab.serve").joinpath("page.html").read_text(encoding="utf-8")
    lock = threading.Lock()  # one forward pass at a time: the model is shared, the CPU cores too

    def probabilities(images: np.ndarray) -> np.ndarray:
        with lock:
            return classifier.probabilities(images)

    app = FastAPI(title="fashionlab", version=card["fashionlab_version"],
                  description=f"Fashion-MNIST classifier from run {Path(run_dir).name}: {card['experiment']}")

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(422, f"invalid request: {where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):  # 404, 405: the same {"error"} shape
        return _error(exc.status_code, f"{exc.detail}: {request.method} {request.url.path} (see /docs)")

    @app.exception_handler(TooLarge)
    async def too_large(request: Request, exc: TooLarge):
        return _error(413, f"request body over the server's upload limit of {max_upload_mb:g} MB (--max-upload-mb)")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "experiment": card["experiment"]}

    @app.get("/model")
    def model() -> dict:
        return card

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.post("/predict")
    async def predict(request: Request, top: int = top_k):
        if not 1 <= top <= len(classifier.classes):
            return _error(422, f"top={top}: give 1 to {len(classifier.classes)}")
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):  # media types ignore case (RFC 9110)
            return _error(415, "send the image files as multipart/form-data (field name 'file' or 'files')")
        try:
            form = await request.form(max_files=MAX_FILES, max_fields=MAX_FILES)
        except TooLarge:
            raise
        except Exception as exc:  # a malformed multipart body
            return _error(400, f"could not read the form data ({exc})")
        uploads = [v for v in form.getlist("file") + form.getlist("files") if hasattr(v, "read")]
        if not uploads:
            return _error(400, "no image file in the request: send one or more as form field 'file'")
        prepared = []
        for upload in uploads:
            name = upload.filename or "upload"
            if (upload.content_type or "").split(";")[0].strip().lower() not in IMAGE_TYPES:
                sent = f"content type {upload.content_type!r}" if upload.content_type else "no content type"
                return _error(415, f"{name}: {sent} is not PNG, JPEG or WebP")
            data = await upload.read()
            if not data:
                return _error(400, f"{name}: the file is empty")
            try:
                prepared.append(prepare_image_bytes(data, name, max_pixels=max_pixels, formats=("PNG", "JPEG", "WEBP")))
            except UserError as exc:
                return _error(413 if isinstance(exc, ImageTooLarge) else 415, str(exc))
        probs = probabilities(np.stack([p.image for p in prepared]))
        results = [{"filename": u.filename, "inverted": p.inverted, "input_image": _png_data_url(p.image),
                    **_answer(classifier, row, top)} for u, p, row in zip(uploads, prepared, probs)]
        return {"results": results}

    @app.post("/predict/batch")
    async def predict_batch(request: Request, top: int = top_k):
        if not 1 <= top <= len(classifier.classes):
            return _error(422, f"top={top}: give 1 to {len(classifier.classes)}")
        try:
            body = await request.body()
        except ClientDisconnect:  # the client left mid-body: no one reads the answer; no traceback in the log
            return _error(400, "the client disconnected before the body was complete")
        if not body:
            return _error(400, "empty body: send a JSON array of 28x28 arrays of pixel values 0-255")
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as exc:
            return _error(400, f"malformed JSON ({exc})")
        if isinstance(payload, dict):
            payload = payload.get("images")
        images = _batch_array(payload)
        if isinstance(images, str):
            return _error(422, images)
        probs = probabilities(images)
        return {"results": [_answer(classifier, row, top) for row in probs]}

    app.add_middleware(BodyLimit, limit=int(max_upload_mb * 2**20))
    return app


def _batch_array(payload) -> np.ndarray | str:
    """The payload as uint8 (N, 28, 28), or a message saying what is wrong with it."""
    if not isinstance(payload, list) or not payload:
        return "send a non-empty JSON array of 28x28 arrays (or {\"images\": [...]})"
    if len(payload) > MAX_BATCH:
        return f"{len(payload)} images: at most {MAX_BATCH} per request"
    try:
        array = np.array(payload, dtype=np.float64)
    except OverflowError:  # a JSON integer of hundreds of digits
        return "pixel values must lie in 0-255, a light item on a dark background as in the dataset"
    except (ValueError, TypeError):
        return "every image must be a 28x28 array of numbers (rows of equal length)"
    if array.ndim != 3 or array.shape[1:] != (28, 28):
        return f"images must be 28x28; got an array of shape {tuple(array.shape)}"
    # NumPy reads true as 1 and "7" as 7: only JSON numbers are pixels (the shape check makes this walk safe).
    if any(type(v) not in (int, float) for image in payload for row in image for v in row):
        return "pixel values must be JSON numbers (not true/false or strings)"
    if not np.isfinite(array).all():
        return "pixel values must be finite numbers (no NaN or infinity)"
    if array.min() < 0 or array.max() > 255:
        return "pixel values must lie in 0-255, a light item on a dark background as in the dataset"
    return np.rint(array).astype(np.uint8)
