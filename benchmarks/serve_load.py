"""Load test of `fashionlab serve` on 127.0.0.1: requests/s and latency under concurrent clients.

Starts the server on a free port (or uses --url), then for each workload runs `--clients`
threads, each with its own keep-alive connection, sending requests back to back for
`--seconds`. Workloads: one image file per request (POST /predict, a PNG photo) and batches of
64 arrays (POST /predict/batch). Prints requests/s, images/s, p50/p99 latency and the error
count (anything but HTTP 200 is an error), beside the machine's GEMM rate. Not run in CI.

    python benchmarks/serve_load.py runs/fast --clients 8 --seconds 20
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import gemm_gflops, machine_record, write_record  # noqa: E402


def multipart(png: bytes) -> tuple[bytes, str]:
    boundary = "fashionlab-load-test"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"item.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + png + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_images(n: int):
    from fashionlab import load_dataset

    ds = load_dataset()
    return ds.test_images[:n]


def png_of(image) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(255 - image).resize((224, 224)).save(buffer, format="PNG")  # a dark-on-light "photo"
    return buffer.getvalue()


def run_workload(url: str, path: str, body: bytes, content_type: str, clients: int, seconds: float) -> dict:
    host = urlparse(url)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client():
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        mine, bad = [], 0
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": content_type})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
            if ok:
                mine.append(time.perf_counter() - t0)
            else:
                bad += 1
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")  # noqa: E731
    return {"requests": len(latencies), "errors": errors[0], "seconds": elapsed,
            "requests_per_second": len(latencies) / elapsed, "p50_ms": pick(0.50), "p99_ms": pick(0.99),
            "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="the run to serve")
    parser.add_argument("--url", help="an already running server (default: start one here)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--json", default="benchmarks/results/serve-load.json")
    args = parser.parse_args()

    print(f"machine: GEMM {gemm_gflops('fp32'):,.0f} GFLOP/s fp32", flush=True)
    server = None
    url = args.url
    if not url:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "fashionlab", "serve", args.run_dir, "--port", str(port)])
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
    try:
        images = test_images(64)
        single, single_type = multipart(png_of(images[0]))
        batch = json.dumps(images.tolist()).encode()
        results = {}
        for name, path, body, ctype, per_request in (
            ("single image (POST /predict, 224x224 PNG)", "/predict", single, single_type, 1),
            ("batch of 64 (POST /predict/batch)", "/predict/batch", batch, "application/json", 64),
        ):
            run_workload(url, path, body, ctype, 2, 2.0)  # warm-up
            r = run_workload(url, path, body, ctype, args.clients, args.seconds)
            r["images_per_second"] = r["requests_per_second"] * per_request
            results[name] = r
            print(f"{name}: {r['requests_per_second']:,.1f} requests/s ({r['images_per_second']:,.0f} images/s), "
                  f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, errors {r['errors']} of {r['requests'] + r['errors']}",
                  flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    record = {"machine": {**machine_record(), "gemm_gflops_fp32": gemm_gflops("fp32")}, "run": args.run_dir,
              "clients": args.clients, "seconds": args.seconds, "results": results}
    write_record(args.json, record)


if __name__ == "__main__":
    main()
