import shutil
import subprocess
import sys

import numpy as np
import pytest

from fashionlab import load_dataset
from fashionlab.cli import main
from fashionlab.data.idx import encode_idx, write_idx
from fashionlab.data.releases import SPLIT_FILES
from fashionlab.data.store import fetch
from fashionlab.errors import DatasetError

from conftest import synthetic_arrays, write_dataset
from conftest import one_line_exit_2


def test_real_copy_loads_and_is_detected(real_data):
    ds = load_dataset(data_dir=real_data)
    assert ds.release == "fashion-mnist-2017-08-26"
    assert ds.train_images.shape == (60000, 28, 28) and ds.train_images.dtype == np.uint8
    assert ds.test_images.shape == (10000, 28, 28)
    assert np.bincount(ds.train_labels).tolist() == [6000] * 10
    assert np.bincount(ds.test_labels).tolist() == [1000] * 10
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    # Figures the dataset README gives for this copy.
    assert abs(ds.train_images.mean() / 255 - 0.2861) < 1e-4


def test_real_copy_cli_info(real_data, capsys):
    assert main(["data", "info", "--data-dir", str(real_data)]) == 0
    out = capsys.readouterr().out
    assert "fashion-mnist-2017-08-26" in out and "60,000 images" in out and "10,000 images" in out
    assert main(["data", "verify", "--data-dir", str(real_data)]) == 0


def test_synthetic_copy_is_unknown_but_loads_with_warning(synthetic_dir):
    with pytest.warns(UserWarning, match="unknown"):
        ds = load_dataset(data_dir=synthetic_dir)
    assert ds.release == "unknown"
    assert ds.train_images.shape == (300, 28, 28)
    assert len(ds.checksums) == 4


def test_cache_is_memory_mapped_and_invalidated_by_a_changed_file(synthetic_dir):
    with pytest.warns(UserWarning):
        first = load_dataset(data_dir=synthetic_dir)
    with pytest.warns(UserWarning):
        second = load_dataset(data_dir=synthetic_dir)
    assert isinstance(second.train_images, np.memmap)
    np.testing.assert_array_equal(first.train_images, second.train_images)
    (new_x, _), _ = synthetic_arrays(300, 100, seed=5)
    write_idx(synthetic_dir / SPLIT_FILES["train_images"], new_x)
    with pytest.warns(UserWarning):
        third = load_dataset(data_dir=synthetic_dir)
    np.testing.assert_array_equal(third.train_images, new_x)


@pytest.mark.parametrize("layout", ["FashionMNIST/raw", "raw-unzipped"])
def test_torchvision_layouts(tmp_path, layout):
    src = write_dataset(tmp_path / "src")
    root = tmp_path / "torchvision"
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in SPLIT_FILES.values():
        if layout == "raw-unzipped":
            import gzip

            (raw / name[:-3]).write_bytes(gzip.decompress((src / name).read_bytes()))
        else:
            shutil.copy(src / name, raw / name)
    with pytest.warns(UserWarning):
        ds = load_dataset(data_dir=root)
    assert ds.test_images.shape == (100, 28, 28)


def test_missing_folder_and_missing_files(tmp_path, capsys, monkeypatch):
    nowhere = tmp_path / "nowhere"
    with pytest.raises(DatasetError, match=f"{nowhere} \\(from --data-dir\\) does not exist: point --data-dir at"):
        load_dataset(data_dir=nowhere)
    # The README's Keras-folder example, on a machine without Keras's copy.
    for argv in (["data", "info"], ["data", "verify"], ["data", "show", "--out", str(tmp_path / "x.png")]):
        err = one_line_exit_2([*argv, "--data-dir", str(nowhere)], capsys)
        assert "does not exist" in err and "not a folder" not in err and f"--data-dir {nowhere}`" in err
    monkeypatch.setenv("FASHIONLAB_DATA", str(nowhere))
    err = one_line_exit_2(["data", "verify"], capsys)
    assert "(from FASHIONLAB_DATA) does not exist: point FASHIONLAB_DATA at" in err
    assert not nowhere.exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="missing train-images"):
        load_dataset(data_dir=tmp_path / "empty")


def _corrupt(folder, kind):
    images = folder / SPLIT_FILES["train_images"]
    good = encode_idx(synthetic_arrays(300, 100)[0][0])
    import gzip

    if kind == "truncated header":
        images.write_bytes(gzip.compress(good[:6]))
    elif kind == "truncated payload":
        images.write_bytes(gzip.compress(good[:-100]))
    elif kind == "wrong magic":
        write_idx(images, np.zeros(300, dtype=np.uint8))  # a labels file in the images' place
    elif kind == "wrong dtype":
        images.write_bytes(gzip.compress(good[:2] + b"\x0d" + good[3:]))
    elif kind == "counts disagree":
        write_idx(images, np.zeros((299, 28, 28), dtype=np.uint8))
    elif kind == "not gzip":
        images.write_bytes(good)
    elif kind == "garbage":
        images.write_bytes(np.random.default_rng(0).bytes(5000))
    return images


KINDS = ["truncated header", "truncated payload", "wrong magic", "wrong dtype", "counts disagree", "not gzip", "garbage"]


@pytest.mark.parametrize("kind", KINDS)
def test_corrupt_file_cli_exit_2_one_line_no_traceback(synthetic_dir, kind, capsys):
    bad = _corrupt(synthetic_dir, kind)
    for argv in (["data", "info"], ["data", "verify"]):
        code = main([*argv, "--data-dir", str(synthetic_dir)])
        err = capsys.readouterr().err
        assert code == 2, (kind, err)
        assert "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
        assert str(bad) in err or "train-images" in err


def test_cli_subprocess_exit_code_2(tmp_path):
    folder = write_dataset(tmp_path / "d")
    _corrupt(folder, "truncated payload")
    proc = subprocess.run(
        [sys.executable, "-m", "fashionlab", "data", "info", "--data-dir", str(folder)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "truncated payload" in proc.stderr and "Traceback" not in proc.stderr


def test_version():
    proc = subprocess.run([sys.executable, "-m", "fashionlab", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("fashionlab ")


@pytest.mark.parametrize("name, magic", [("grid.png", b"\x89PNG\r\n\x1a\n"), ("grid.jpg", b"\xff\xd8\xff"),
                                         ("grid.JPEG", b"\xff\xd8\xff"), ("grid.pdf", b"%PDF"),
                                         ("grid.svg", b"<?xml")])
def test_data_show_writes_the_format_its_name_asks_for(synthetic_dir, tmp_path, name, magic):
    out = tmp_path / name
    with pytest.warns(UserWarning):
        assert main(["data", "show", "--data-dir", str(synthetic_dir), "--out", str(out)]) == 0
    assert out.read_bytes()[: len(magic)] == magic and out.stat().st_size > 5000
    if magic[:1] in (b"\x89", b"\xff"):
        from PIL import Image

        with Image.open(out) as image:
            assert image.format == ("PNG" if name.endswith("png") else "JPEG")


def test_data_show_refuses_a_format_it_cannot_write(synthetic_dir, tmp_path, capsys):
    for name in ("grid.gif", "grid"):
        err = one_line_exit_2(["data", "show", "--data-dir", str(synthetic_dir), "--out", str(tmp_path / name)], capsys)
        assert "ending in .png, .jpg" in err and not (tmp_path / name).exists()


# ---------------------------------------------------------------- hostile folders and caches


@pytest.mark.parametrize("part", ["test", "train"])
def test_zero_images_is_refused_at_load(synthetic_dir, part, capsys):
    images = write_idx(synthetic_dir / SPLIT_FILES[f"{part}_images"], np.zeros((0, 28, 28), dtype=np.uint8))
    write_idx(synthetic_dir / SPLIT_FILES[f"{part}_labels"], np.zeros(0, dtype=np.uint8))
    with pytest.raises(DatasetError, match=f"holds 0 images; the {part} set needs at least one") as info:
        load_dataset(data_dir=synthetic_dir)
    assert str(images) in str(info.value)
    err = one_line_exit_2(["data", "info", "--data-dir", str(synthetic_dir)], capsys)
    assert "0 images" in err
    err = one_line_exit_2(["train", "ann-3", "--epochs", "1", "--data-dir", str(synthetic_dir),
                            "--out", str(synthetic_dir.parent / "run")], capsys)
    assert "0 images" in err and not (synthetic_dir.parent / "run").exists()


def test_counts_are_checked_from_the_headers_before_any_payload(synthetic_dir, monkeypatch):
    import fashionlab.data.store as store

    write_idx(synthetic_dir / SPLIT_FILES["test_labels"], np.zeros(99, dtype=np.uint8))
    monkeypatch.setattr(store, "read_idx", lambda *a, **k: pytest.fail("a payload was read"))
    monkeypatch.setattr(store, "_cached_array", lambda *a, **k: pytest.fail("a payload was read"))
    with pytest.raises(DatasetError, match="100 images but .* holds 99 labels"):
        load_dataset(data_dir=synthetic_dir)


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """An array cache of the test's own: the tests below damage entries that other tests
    (same synthetic data, same md5) would otherwise find in the session's shared cache."""
    monkeypatch.setenv("FASHIONLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _cache_entry(ds, split):
    from fashionlab.data.store import cache_root

    return cache_root() / "arrays" / f"{ds.checksums[SPLIT_FILES[split]]}.npy"


@pytest.mark.filterwarnings("ignore:.*unknown.*:UserWarning")
@pytest.mark.parametrize(
    "split, bad, problem",
    [
        ("train_images", np.zeros((300, 28, 27), dtype=np.uint8), "holds shape"),
        ("train_images", np.zeros((300, 28, 28), dtype=np.float32), "holds dtype float32"),
        ("test_labels", np.full(100, 200, dtype=np.uint8), "holds label 200"),
        ("test_labels", np.zeros(3, dtype=np.uint8), "holds shape"),
        ("test_labels", np.array(["x"] * 100, dtype=object), "cannot be read"),  # a pickle: never loaded
        ("test_labels", None, "cannot be read"),
    ],
)
def test_a_bad_cache_entry_is_rebuilt_from_the_file(synthetic_dir, private_cache, split, bad, problem):
    first = load_dataset(data_dir=synthetic_dir)
    expected = np.array(getattr(first, split))
    entry = _cache_entry(first, split)
    assert entry.is_file()
    if bad is None:
        entry.write_bytes(b"\x93NUMPY garbage")
    else:
        np.save(entry, bad, allow_pickle=True)
    with pytest.warns(UserWarning, match=f"array cache .* {problem}.*; rebuilt it from"):
        second = load_dataset(data_dir=synthetic_dir)
    np.testing.assert_array_equal(getattr(second, split), expected)
    third = load_dataset(data_dir=synthetic_dir)  # the rebuilt entry is good again: no warning about it
    assert isinstance(getattr(third, split), np.memmap)


@pytest.mark.filterwarnings("ignore:.*unknown.*:UserWarning")
def test_a_non_file_cache_entry_is_bypassed(synthetic_dir, private_cache):
    first = load_dataset(data_dir=synthetic_dir)
    entry = _cache_entry(first, "test_labels")
    assert private_cache in entry.parents
    entry.unlink()
    entry.mkdir()
    with pytest.warns(UserWarning, match="could not write the array cache"):
        second = load_dataset(data_dir=synthetic_dir)
    np.testing.assert_array_equal(second.test_labels, first.test_labels)


@pytest.mark.parametrize("what", ["directory", "fifo", "symlink loop"])
def test_a_non_file_where_a_data_file_belongs_is_named(synthetic_dir, what, capsys):
    import os

    path = synthetic_dir / SPLIT_FILES["test_images"]
    path.unlink()
    if what == "directory":
        path.mkdir()
        words = "is a directory"
    elif what == "symlink loop":
        path.symlink_to(path.name)  # stat fails with ELOOP, which is not "nothing there"
        words = r"is a symbolic link that cannot be followed \(a loop of links\)"
    else:
        os.mkfifo(path)  # md5 or decoding would block on it forever
        words = r"is a named pipe \(FIFO\)"
    with pytest.raises(DatasetError, match=f"missing t10k-images-idx3-ubyte.gz \\({path}.* {words}, not a file\\)"):
        load_dataset(data_dir=synthetic_dir)
    for argv in (["data", "info"], ["data", "verify"]):
        err = one_line_exit_2([*argv, "--data-dir", str(synthetic_dir)], capsys)
        assert str(path) in err and words.replace("\\", "") in err
    with pytest.raises(DatasetError, match=f"{path} is .*, not a file, so it cannot be downloaded there"):
        fetch("fashion-mnist", synthetic_dir, retries=1, backoff=0, progress=False)


def test_data_dir_that_is_a_file_says_so(tmp_path, capsys):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(DatasetError, match="is a file, not a folder"):
        load_dataset(data_dir=path)
    err = one_line_exit_2(["data", "info", "--data-dir", str(path)], capsys)
    assert str(path) in err


def test_unreadable_folder_and_files_are_dataset_errors(synthetic_dir, monkeypatch, capsys):
    import os

    import fashionlab.data.store as store

    def denied(path, *args):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(store, "md5_of", denied)
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte.gz: cannot read the file \(Permission denied\)"):
        load_dataset(data_dir=synthetic_dir)
    one_line_exit_2(["data", "info", "--data-dir", str(synthetic_dir)], capsys)
    monkeypatch.undo()
    real_listdir = os.listdir
    monkeypatch.setattr(store.os, "listdir", lambda p=".": denied(p) if str(p) == str(synthetic_dir) else real_listdir(p))
    with pytest.raises(DatasetError, match=rf"{synthetic_dir}: cannot read the folder \(Permission denied\)"):
        load_dataset(data_dir=synthetic_dir)


def test_unreadable_folder_chmod(synthetic_dir):
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads a chmod 000 folder anyway (the monkeypatched test covers the code path)")
    synthetic_dir.chmod(0)
    try:
        with pytest.raises(DatasetError, match="Permission denied"):
            load_dataset(data_dir=synthetic_dir)
    finally:
        synthetic_dir.chmod(0o755)


def test_data_dir_with_an_unknown_user(capsys):
    one_line_exit_2(["data", "info", "--data-dir", "~no-such-user-fashionlab/data"], capsys)


def test_download_into_a_folder_that_cannot_be_created(tmp_path, capsys):
    from fashionlab.data.download import download

    plain = tmp_path / "plain"
    plain.write_text("a file where the data folder would go")
    with pytest.raises(DatasetError, match=f"cannot create the folder {plain / 'data'}"):
        download(["http://127.0.0.1:9/never"], plain / "data" / "x.gz", None, retries=1, backoff=0, progress=False)
    err = one_line_exit_2(["data", "fetch", "--data-dir", str(plain / "data"), "--quiet"], capsys)
    assert "cannot create the folder" in err


def test_download_refuses_a_non_file_partial(tmp_path):
    from fashionlab.data.download import download

    (tmp_path / "x.gz.part").mkdir()
    with pytest.raises(DatasetError, match="x.gz.part is a directory"):
        download(["http://127.0.0.1:9/never"], tmp_path / "x.gz", None, retries=1, backoff=0, progress=False)
    assert (tmp_path / "x.gz.part").is_dir()
