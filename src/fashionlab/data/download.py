"""Download one file: mirror fallback, retries with backoff, resume of a partial download, md5.

The file is written to `<name>.part`, resumed with an HTTP Range request when a connection
drops, checked against its md5 and only then renamed into place. A failed or mismatching
download leaves nothing behind and the error names every URL tried and why it failed.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import DatasetError
from ..fileio import entry_kind

CHUNK = 1 << 16
USER_AGENT = "fashionlab (+https://pypi.org/project/fashionlab)"


class _Mismatch(Exception):
    pass


def md5_of(path: str | os.PathLike) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_into(url: str, part: Path, timeout: float, progress) -> None:
    """Fetch `url` into `part`, continuing from its current size when the server allows it."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if have:
        request.add_header("Range", f"bytes={have}-")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if have and response.status != 206:  # server ignored the Range: start over
            have = 0
        total = response.length + have if response.length is not None else None
        if progress is not None:
            progress.reset(total=total)
            progress.update(have)
        with open(part, "ab" if have else "wb") as out:
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                out.write(block)
                if progress is not None:
                    progress.update(len(block))
        if total is not None and part.stat().st_size < total:
            raise http.client.IncompleteRead(b"", total - part.stat().st_size)


def download(
    urls: list[str],
    dest: str | os.PathLike,
    md5: str | None,
    retries: int = 3,
    backoff: float = 1.0,
    timeout: float = 30.0,
    progress: bool = True,
) -> Path:
    """Download the first of `urls` that works into `dest`; return `dest`.

    Each URL gets `retries` attempts; after attempt k it waits backoff * 2**k seconds. A dropped
    connection resumes from where it stopped. Raises DatasetError when every URL failed.
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a folder belongs, a read-only disk, no permission
        raise DatasetError(
            f"cannot create the folder {dest.parent} for {dest.name} ({exc.strerror}). "
            "Pass --data-dir (or set FASHIONLAB_DATA / FASHIONLAB_CACHE) to a folder you can write."
        ) from None
    part = dest.with_name(dest.name + ".part")
    kind = entry_kind(part)
    if kind not in (None, "a file"):
        raise DatasetError(f"{part} is {kind}, where the download's partial file goes. Remove it and fetch again.")
    failures: list[str] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(desc=dest.name, unit="B", unit_scale=True, unit_divisor=1024, leave=False)
    try:
        for url in urls:
            part.unlink(missing_ok=True)
            for attempt in range(retries):
                try:
                    _fetch_into(url, part, timeout, bar)
                    if md5 is not None:
                        got = md5_of(part)
                        if got != md5:
                            raise _Mismatch(f"md5 mismatch: got {got}, expected {md5}")
                    os.replace(part, dest)
                    return dest
                except urllib.error.HTTPError as exc:
                    failures.append(f"{url}: HTTP {exc.code} {exc.reason}")
                    if exc.code in (403, 404, 410):  # the file is not there: next mirror
                        break
                except _Mismatch as exc:
                    failures.append(f"{url}: {exc}")
                    part.unlink(missing_ok=True)
                    break  # a mirror serving other bytes will not change its mind
                except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                    reason = getattr(exc, "reason", None) or exc
                    failures.append(f"{url}: {type(exc).__name__}: {reason}")
                if attempt + 1 < retries:
                    time.sleep(backoff * 2**attempt)
        part.unlink(missing_ok=True)
        tried = "\n  ".join(failures)
        raise DatasetError(
            f"could not download {dest.name} into {dest.parent}. Attempts:\n  {tried}\n"
            "Check your internet connection, or download the file yourself and pass its folder "
            "with --data-dir (or set FASHIONLAB_DATA)."
        )
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        if bar is not None:
            bar.close()
