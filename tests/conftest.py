import http.server
import os
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

# Decoded-array cache in a throwaway folder, never the user's ~/.cache.
os.environ.setdefault("FASHIONLAB_CACHE", tempfile.mkdtemp(prefix="fashionlab-test-cache-"))
# One intra-op thread (set before torch loads; inherited by subprocesses): the tests' tiny batches
# gain nothing from two, and on a loaded 2-core machine OpenMP's spinning barriers made a step
# up to 25x slower with two threads than with one (measured: 37 s against 1.5 s per ann-2 epoch).
os.environ.setdefault("OMP_NUM_THREADS", "1")

from fashionlab.data.idx import write_idx  # noqa: E402
from fashionlab.data.releases import SPLIT_FILES  # noqa: E402


def real_data_dir() -> Path:
    env = os.environ.get("FASHIONLAB_DATA")
    if not env:
        pytest.skip("FASHIONLAB_DATA is not set: point it at the real Fashion-MNIST folder to run this test")
    return Path(env)


@pytest.fixture
def real_data():
    return real_data_dir()


def synthetic_arrays(n_train=300, n_test=100, seed=0):
    """Learnable fake data: each class is a bright bar at its own row band, plus noise."""
    rng = np.random.default_rng(seed)

    def make(n):
        labels = np.arange(n) % 10
        rng.shuffle(labels)
        images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 + 2 * label : 5 + 2 * label, 4:24] = 220
        return images, labels.astype(np.uint8)

    return make(n_train), make(n_test)


def write_dataset(folder: Path, n_train=300, n_test=100, seed=0) -> Path:
    (train_x, train_y), (test_x, test_y) = synthetic_arrays(n_train, n_test, seed)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / SPLIT_FILES["train_images"], train_x)
    write_idx(folder / SPLIT_FILES["train_labels"], train_y)
    write_idx(folder / SPLIT_FILES["test_images"], test_x)
    write_idx(folder / SPLIT_FILES["test_labels"], test_y)
    return folder


@pytest.fixture
def load_benchmark(monkeypatch):
    """A script under benchmarks/ as a module, by file name. The scripts put benchmarks/ first on
    sys.path when imported: that is undone after the test."""
    import importlib.util
    import sys

    monkeypatch.setattr(sys, "path", list(sys.path))

    def load(name: str):
        path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def synthetic_dir(tmp_path):
    return write_dataset(tmp_path / "synthetic")


class Server:
    """Serves `routes`: path -> bytes, 404 when absent. `drop_once` paths cut the first response short."""

    def __init__(self):
        self.routes: dict[str, bytes] = {}
        self.drop_once: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                owner.requests.append((self.path, self.headers.get("Range")))
                body = owner.routes.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                rng = self.headers.get("Range")
                if rng:
                    start = int(rng.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if self.path in owner.drop_once:
                    owner.drop_once.discard(self.path)
                    self.wfile.write(body[start : start + len(body) // 3])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def one_line_exit_2(argv, capsys) -> str:
    """Run the CLI; assert the fashionlab contract for bad input: exit code 2, one line, no traceback."""
    from fashionlab.cli import main

    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err
