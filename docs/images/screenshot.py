"""Screenshot of an HTML page in headless Chromium, as the README's report images were taken.

    python docs/images/screenshot.py REPORT.html OUT.png [--width 1400] [--height 1900]

The page is laid out at --width CSS pixels and the top --height pixels are saved (the whole
page with --height 0). Needs selenium and Debian's chromium and chromium-driver packages.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import tempfile
from pathlib import Path


def screenshot(page: Path, out: Path, width: int, height: int) -> tuple[int, int]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as profile:
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", f"--window-size={width},1000", f"--user-data-dir={profile}"):
            options.add_argument(flag)
        browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        try:
            browser.get(page.resolve().as_uri())
            full = browser.execute_script("return document.documentElement.scrollHeight")
            height = min(height, full) if height else full
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
            shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        finally:
            browser.quit()
    out.write_bytes(base64.b64decode(shot["data"]))
    return width, height


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1900, help="pixels from the top; 0: the whole page")
    args = parser.parse_args()
    print("%s: %dx%d" % (args.out, *screenshot(args.page, args.out, args.width, args.height)))
