import io
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

from fashionlab.experiment import load_config
from fashionlab.training import train

pytestmark = pytest.mark.filterwarnings("ignore:.*unknown.*:UserWarning")
pytest.importorskip("fastapi", reason="the web service needs the `serve` extra (fastapi, uvicorn)")
from fastapi.testclient import TestClient  # noqa: E402

from fashionlab.serve.app import create_app  # noqa: E402


def png_bytes(image: np.ndarray, fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt)
    return buffer.getvalue()


def item() -> np.ndarray:
    """A light trouser-like shape (two legs) on black."""
    image = np.zeros((28, 28), dtype=np.uint8)
    image[2:26, 8:13] = 210
    image[2:26, 15:20] = 210
    image[2:6, 8:20] = 210
    return image


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from conftest import write_dataset

    root = tmp_path_factory.mktemp("serve")
    data = write_dataset(root / "data")
    config = load_config("cnn-2", {"epochs": 1, "train_limit": 300, "device": "cpu"})
    return train(config, root / "run", data_dir=data, progress=False, log=lambda s: None).run_dir


@pytest.fixture(scope="module")
def client(run_dir):
    return TestClient(create_app(run_dir, max_upload_mb=1, max_pixels=1_000_000))


def test_health_model_page_and_docs(client):
    assert client.get("/health").json()["status"] == "ok"
    card = client.get("/model").json()
    assert card["experiment"] == "cnn-2" and card["model"] == "cnn-2" and len(card["classes"]) == 10
    assert card["parameters"] == 871_402 and card["config"]["optimizer"] == "sgd"
    assert np.asarray(card["confusion_matrix"]).shape == (10, 10) and 0 <= card["test_accuracy"] <= 1
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # self-contained: no CDN
    assert client.get("/docs").status_code == 200 and "/predict/batch" in client.get("/openapi.json").text
    # Unknown paths and methods answer in the same JSON shape as every other error.
    for r, status in ((client.get("/nowhere"), 404), (client.get("/predict"), 405)):
        assert r.status_code == status and r.json()["error"].startswith(("Not Found", "Method Not Allowed")), r.text


def test_predict_one_and_several_files(client):
    photo = png_bytes(255 - item())  # dark on light: must be inverted
    r = client.post("/predict", files=[("file", ("a.png", photo, "image/png")),
                                       ("file", ("b.jpg", png_bytes(item(), "JPEG"), "image/jpeg"))])
    assert r.status_code == 200, r.text
    a, b = r.json()["results"]
    assert a["inverted"] is True and b["inverted"] is False
    assert len(a["top"]) == 3 and a["input_image"].startswith("data:image/png;base64,")
    assert sum(a["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    assert a["top"][0]["probability"] == max(a["probabilities"].values())
    decoded = np.asarray(Image.open(io.BytesIO(__import__("base64").b64decode(a["input_image"].split(",")[1]))))
    assert decoded.shape == (28, 28)
    r = client.post("/predict?top=10", files={"file": ("c.webp", png_bytes(item(), "WEBP"), "image/webp")})
    assert r.status_code == 200 and len(r.json()["results"][0]["top"]) == 10


def test_predict_batch_matches_the_files_endpoint(client):
    image = item()
    via_file = client.post("/predict", files={"file": ("x.png", png_bytes(image), "image/png")}).json()["results"][0]
    prepared = np.asarray(Image.open(io.BytesIO(__import__("base64").b64decode(via_file["input_image"].split(",")[1]))))
    r = client.post("/predict/batch", json=[prepared.tolist(), image.tolist()])
    assert r.status_code == 200
    first = r.json()["results"][0]
    assert first["top"][0]["class"] == via_file["top"][0]["class"]
    assert first["top"][0]["probability"] == pytest.approx(via_file["top"][0]["probability"], abs=1e-5)
    assert client.post("/predict/batch", json={"images": [image.tolist()]}).status_code == 200


@pytest.mark.parametrize("kwargs, status, words", [
    ({"content": b"x" * (1_100_000), "headers": {"content-type": "application/json"}}, 413, "upload limit"),
    ({"content": b"", "headers": {"content-type": "application/json"}}, 400, "empty body"),
    ({"content": b"[[1, 2", "headers": {"content-type": "application/json"}}, 400, "malformed JSON"),
    ({"json": [[[0] * 28] * 27]}, 422, "28x28"),
    ({"json": [[1, 2], [3]]}, 422, "28x28"),
    ({"json": []}, 422, "non-empty"),
    ({"json": {"pictures": []}}, 422, "non-empty"),
    ({"content": b"[" + b",".join([b"[" + b",".join([b"NaN"] * 28) + b"]"] * 28) + b"]", "headers": {"content-type": "application/json"}}, 422, "28x28"),
    ({"content": b"[[" + b",".join([b"[" + b",".join([b"NaN"] * 28) + b"]"] * 28) + b"]]", "headers": {"content-type": "application/json"}}, 422, "finite"),
    ({"json": [[[300] * 28] * 28]}, 422, "0-255"),
    ({"json": [[["a"] * 28] * 28]}, 422, "numbers"),
    ({"content": b"[[[" + b"9" * 400 + b"]]]", "headers": {"content-type": "application/json"}}, 422, "0-255"),
    ({"json": [[[True] * 28] * 28]}, 422, "JSON numbers"),  # NumPy would read them as 1
    ({"json": [[["7"] * 28] * 28]}, 422, "JSON numbers"),  # and these as 7
])
def test_hostile_batch_requests_get_4xx_json(client, kwargs, status, words):
    r = client.post("/predict/batch", **kwargs)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]
    assert client.get("/health").status_code == 200  # still serving


def test_a_client_that_leaves_mid_body_gets_an_answer_not_a_traceback(client):
    import asyncio

    sent = []

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/predict/batch", "raw_path": b"/predict/batch",
             "query_string": b"", "headers": [(b"content-type", b"application/json"), (b"content-length", b"5000")],
             "http_version": "1.1", "scheme": "http", "server": ("testserver", 80), "client": ("c", 1),
             "root_path": ""}
    asyncio.run(client.app(scope, receive, send))  # raised ClientDisconnect (a traceback in the log) before
    assert sent[0]["status"] == 400


def test_hostile_uploads_get_4xx_json(client):
    cases = [
        (dict(files={"file": ("big.png", b"\x89PNG" + b"0" * 1_100_000, "image/png")}), 413, "upload limit"),
        (dict(files={"file": ("huge.png", png_bytes(np.zeros((1200, 1200), np.uint8)), "image/png")}), 413, "megapixels"),
        (dict(files={"file": ("notes.png", b"this is text, not a PNG", "image/png")}), 415, "not a readable image"),
        (dict(files={"file": ("notes.txt", b"hello", "text/plain")}), 415, "not PNG, JPEG or WebP"),
        (dict(files={"file": ("pic.gif", png_bytes(item(), "GIF"), "image/gif")}), 415, "not PNG, JPEG or WebP"),
        (dict(files={"file": ("disguised.png", png_bytes(item(), "GIF"), "image/png")}), 415,
         "not a readable image (not a PNG, JPEG or WEBP image, the formats accepted here)"),
        (dict(content=b'--xx\r\nContent-Disposition: form-data; name="file"; filename="bare.png"\r\n\r\n'
                      + png_bytes(item()) + b"\r\n--xx--\r\n", headers={"content-type": "multipart/form-data; boundary=xx"}),
         415, "bare.png: no content type is not PNG"),
        (dict(files={"file": ("empty.png", b"", "image/png")}), 400, "empty"),
        (dict(data={"note": "no file"}, files={"other": ("a.txt", b"x", "text/plain")}), 400, "no image file"),
        (dict(data={"note": "no file"}), 415, "multipart/form-data"),
        (dict(content=b"\x89PNG...", headers={"content-type": "image/png"}), 415, "multipart/form-data"),
        (dict(content=b"--xx\r\nbroken", headers={"content-type": "multipart/form-data; boundary=xx"}), 400, ""),
    ]
    for kwargs, status, words in cases:
        r = client.post("/predict", **kwargs)
        assert r.status_code == status, (kwargs.get("files"), r.status_code, r.text)
        assert words in r.json()["error"] and " object at 0x" not in r.json()["error"]  # no Python reprs
    assert client.post("/predict?top=0", files={"file": ("x.png", png_bytes(item()), "image/png")}).status_code == 422
    assert client.post("/predict?top=abc", files={"file": ("x.png", png_bytes(item()), "image/png")}).status_code == 422
    assert client.post("/predict", files={"file": ("x.png", png_bytes(item()), "image/png")}).status_code == 200


def test_the_multipart_media_type_is_read_in_any_case(client):
    boundary = "XX"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + png_bytes(item()) + f"\r\n--{boundary}--\r\n".encode()
    r = client.post("/predict", content=body, headers={"content-type": f"Multipart/Form-Data; boundary={boundary}"})
    assert r.status_code == 200, r.text
    assert len(r.json()["results"]) == 1 and len(r.json()["results"][0]["top"]) == 3


def test_a_malformed_multipart_body_is_a_400_and_no_stray_log_line(client, caplog):
    caplog.set_level(logging.DEBUG)  # what a log at any level would show
    r = client.post("/predict", content=b"garbage", headers={"content-type": "multipart/form-data; boundary=xx"})
    assert r.status_code == 400 and "could not read the form data" in r.json()["error"]
    assert not [rec.getMessage() for rec in caplog.records if rec.name.startswith(("python_multipart", "multipart"))]


def test_a_streamed_body_over_the_limit_is_cut_off(client):
    def chunks():
        for _ in range(40):
            yield b"0" * 65536  # 2.5 MB with no Content-Length

    r = client.post("/predict/batch", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "upload limit" in r.json()["error"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("where", ["port in use", "not this machine", "empty label"])
def test_a_port_in_use_or_a_foreign_host_is_one_line(run_dir, capsys, where):
    from conftest import one_line_exit_2

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        host, port = {"port in use": ("127.0.0.1", taken.getsockname()[1]), "not this machine": ("192.0.2.1", 0),
                      "empty label": ("127.0.0..1", 0)}[where]  # IDNA cannot encode it: a UnicodeError, not an OSError
        err = one_line_exit_2(["serve", str(run_dir), "--host", host, "--port", str(port), "--device", "cpu"], capsys)
    assert f"--host {host} --port {port}: cannot listen there" in err


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    if os.environ.get("CI"):
        pytest.fail("chromium and chromedriver are not installed; .ci/run installs Debian's chromium and chromium-driver")
    pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")


def test_page_in_a_real_browser_agrees_with_fashionlab_predict(run_dir, tmp_path):
    chromium, driver_path = _browser()
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from fashionlab.predict import predict_images

    photo = tmp_path / "trousers.png"
    Image.fromarray(255 - item()).resize((140, 140)).save(photo)
    expected = predict_images(run_dir, [photo], top_k=1, device="cpu")[0].top[0][0]

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "fashionlab", "serve", str(run_dir), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 300  # generous: importing torch on a busy 2-core machine is slow
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    server.kill()
                    raise AssertionError(f"server did not start: {server.communicate()[0][-2000:]}")
                time.sleep(0.3)
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}"):
            options.add_argument(flag)
        from selenium.webdriver.chrome.service import Service

        browser = webdriver.Chrome(service=Service(driver_path), options=options)
        try:
            browser.get(f"http://127.0.0.1:{port}/")
            WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#card tr"))
            browser.find_element(By.ID, "file").send_keys(str(photo))
            WebDriverWait(browser, 30).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#bars .bar")) == 10)
            top = browser.find_element(By.ID, "top-class").get_attribute("data-cls")
            assert top == expected
            assert browser.find_element(By.ID, "input28").get_attribute("src").startswith("data:image/png")
            assert len(browser.find_elements(By.CSS_SELECTOR, "#cm tr")) == 11  # the confusion matrix is on the page
            assert browser.find_element(By.ID, "error").text == ""
        finally:
            browser.quit()
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.mark.parametrize("host, url", [("127.0.0.1", "http://127.0.0.1:8000/"), ("::1", "http://[::1]:8000/"),
                                       ("localhost", "http://localhost:8000/")])
def test_the_printed_address_is_a_url_for_ipv6_hosts_too(host, url):
    from fashionlab.cli import server_url

    assert server_url(host, 8000) == url


@pytest.mark.parametrize("flag, value", [("--port", "70000"), ("--max-upload-mb", "0")])
def test_an_out_of_range_serve_flag_is_named_alone(run_dir, capsys, flag, value):
    from conftest import one_line_exit_2

    err = one_line_exit_2(["serve", str(run_dir), flag, value, "--device", "cpu"], capsys)
    assert f"{flag} {value}" in err and ({"--port", "--max-upload-mb"} - {flag}).pop() not in err
