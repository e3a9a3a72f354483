"""Downloads against a real HTTP server on 127.0.0.1 (conftest.Server), started by the test."""

import hashlib

import pytest

from fashionlab.data.download import download
from fashionlab.data.releases import SPLIT_FILES, Release
from fashionlab.data.store import fetch
from fashionlab.errors import DatasetError

PAYLOAD = bytes(range(256)) * 400  # 100 KiB
MD5 = hashlib.md5(PAYLOAD).hexdigest()
FAST = dict(retries=3, backoff=0.01, timeout=5, progress=False)


def test_success(server, tmp_path):
    server.routes["/a/f.gz"] = PAYLOAD
    out = download([server.url + "/a/f.gz"], tmp_path / "f.gz", MD5, **FAST)
    assert out.read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.gz"]


def test_md5_mismatch_leaves_no_file_and_names_the_url(server, tmp_path):
    server.routes["/a/f.gz"] = PAYLOAD[:-1] + b"X"
    with pytest.raises(DatasetError) as info:
        download([server.url + "/a/f.gz"], tmp_path / "f.gz", MD5, **FAST)
    assert "md5 mismatch" in str(info.value) and server.url + "/a/f.gz" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_404_falls_back_to_next_mirror(server, tmp_path):
    server.routes["/b/f.gz"] = PAYLOAD
    out = download([server.url + "/a/f.gz", server.url + "/b/f.gz"], tmp_path / "f.gz", MD5, **FAST)
    assert out.read_bytes() == PAYLOAD
    assert [p for p, _ in server.requests] == ["/a/f.gz", "/b/f.gz"]  # no retry of a 404


def test_dropped_connection_resumes_with_range(server, tmp_path):
    server.routes["/a/f.gz"] = PAYLOAD
    server.drop_once.add("/a/f.gz")
    out = download([server.url + "/a/f.gz"], tmp_path / "f.gz", MD5, **FAST)
    assert out.read_bytes() == PAYLOAD
    assert len(server.requests) == 2
    assert server.requests[1][1] == f"bytes={len(PAYLOAD) // 3}-"


def test_all_mirrors_fail(server, tmp_path):
    with pytest.raises(DatasetError, match="HTTP 404") as info:
        download([server.url + "/a/f.gz", server.url + "/b/f.gz"], tmp_path / "f.gz", MD5, **FAST)
    assert "/a/f.gz" in str(info.value) and "/b/f.gz" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_server_is_retried_then_reported(tmp_path):
    with pytest.raises(DatasetError, match="URLError") as info:
        download(["http://127.0.0.1:9/f.gz"], tmp_path / "f.gz", MD5, **FAST)
    assert str(info.value).count("127.0.0.1:9") == 3  # three attempts


def test_fetch_a_release_into_a_folder(server, tmp_path):
    from conftest import write_dataset

    src = write_dataset(tmp_path / "src")
    md5 = {}
    for name in SPLIT_FILES.values():
        server.routes["/m/" + name] = (src / name).read_bytes()
        md5[name] = hashlib.md5(server.routes["/m/" + name]).hexdigest()
    release = Release("test-release", "served locally", tuple("0123456789"), md5, (server.url + "/dead/", server.url + "/m/"))
    status = fetch(release, tmp_path / "dest", **FAST)
    assert status.release is None  # not a registered release, but complete
    assert status.missing == []
    assert status.md5 == md5
