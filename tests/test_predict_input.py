"""Hostile input to `fashionlab predict`: deep images, non-files, huge images, bad --top."""

import os

import numpy as np
import pytest
from PIL import Image

from fashionlab.cli import main
from fashionlab.errors import UserError
from fashionlab.predict import prepare_image

from test_predict import correlation, item_image

pytestmark = pytest.mark.filterwarnings("ignore:.*unknown.*:UserWarning")


def _one_line_exit_2(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "Traceback" not in captured.err and len(captured.err.strip().splitlines()) == 1, captured.err
    assert captured.out == ""
    return captured.err


def _smooth_item() -> np.ndarray:
    """The test item with graded brightness (0-200), so that clipping at 255 would show."""
    image = item_image().astype(np.float64)
    rows = np.linspace(0.3, 1.0, 28)[:, None]
    return image * rows


@pytest.mark.parametrize(
    "name, to_array",
    [
        ("16bit.png", lambda x: (x * 257).astype(np.uint16)),
        ("16bit.tif", lambda x: (x * 257).astype(np.uint16)),
        ("32bit.tif", lambda x: (x * 16843009 / 2).astype(np.int32)),  # 31 bits of a 32-bit signed range
        ("u32.tif", lambda x: (x * 16843009).astype(np.uint32)),  # the full unsigned range: over 2**31 too
        ("float.tif", lambda x: (x / 255).astype(np.float32)),
        ("float-range.tif", lambda x: (x * 40 - 3000).astype(np.float32)),  # outside 0-1: its own range
    ],
)
def test_deep_images_are_scaled_by_their_bit_depth(tmp_path, name, to_array):
    reference = tmp_path / "8bit.png"
    Image.fromarray(_smooth_item().astype(np.uint8)).save(reference)
    expected = prepare_image(reference).image
    path = tmp_path / name
    array = to_array(_smooth_item())
    if array.dtype == np.uint32:  # Pillow would write it as signed int32; tifffile writes what it is
        tifffile = pytest.importorskip("tifffile", reason="writing a uint32 TIFF needs tifffile")
        tifffile.imwrite(path, array)
        assert array.max() >= 2**31
    else:
        Image.fromarray(array).save(path)
    prepared = prepare_image(path)
    assert not prepared.inverted
    # Not a silhouette: as many grey levels as the 8-bit image, and the same picture.
    assert len(np.unique(prepared.image)) > 0.8 * len(np.unique(expected))
    assert correlation(prepared.image, expected) > 0.99
    assert np.abs(prepared.image.astype(int) - expected.astype(int)).max() <= 3


def test_dark_on_light_16bit_photo_is_inverted(tmp_path):
    path = tmp_path / "photo16.png"
    Image.fromarray(((255 - _smooth_item()) * 257).astype(np.uint16)).save(path)
    prepared = prepare_image(path)
    assert prepared.inverted and correlation(prepared.image, _smooth_item()) > 0.95


def test_float_image_with_nan_pixels(tmp_path):
    values = (_smooth_item() / 255).astype(np.float32)
    values[0, 0] = np.nan
    path = tmp_path / "nan.tif"
    Image.fromarray(values).save(path)
    assert correlation(prepare_image(path).image, _smooth_item()) > 0.95
    Image.fromarray(np.full((8, 8), np.nan, dtype=np.float32)).save(path)
    with pytest.raises(UserError, match="no finite pixel values"):
        prepare_image(path)


def test_a_mode_pillow_cannot_make_grey_is_a_user_error(tmp_path):
    path = tmp_path / "lab.tif"
    Image.new("LAB", (8, 8)).save(path)
    with pytest.raises(UserError, match=f"{path}: not a readable image"):
        prepare_image(path)


def test_fifo_directory_and_device_are_refused_without_opening(tmp_path, capsys):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # Image.open would block here forever
    folder = tmp_path / "folder.png"
    folder.mkdir()
    for path, words in ((fifo, r"is a named pipe \(FIFO\), not an image file"),
                        (folder, "is a directory, not an image file"),
                        ("/dev/zero", "is a character device, not an image file")):
        with pytest.raises(UserError, match=words):
            prepare_image(path)
    err = _one_line_exit_2(["predict", str(tmp_path / "no-run"), str(fifo)], capsys)
    assert str(fifo) in err and "named pipe" in err


def test_symlink_loops_and_overlong_names_are_named_not_missing(tmp_path, capsys):
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop.name)
    err = _one_line_exit_2(["predict", str(tmp_path / "no-run"), str(loop)], capsys)
    assert f"{loop} is a symbolic link that cannot be followed (a loop of links), not an image file" in err
    config = tmp_path / "loop.toml"
    config.symlink_to(config.name)
    err = _one_line_exit_2(["train", str(config), "--out", str(tmp_path / "run")], capsys)
    assert "symbolic link that cannot be followed" in err and "not a config file" in err
    long_name = tmp_path / ("x" * 300 + ".png")  # over NAME_MAX: ENAMETOOLONG, not "no such file"
    err = _one_line_exit_2(["predict", str(tmp_path / "no-run"), str(long_name)], capsys)
    assert "is a path too long for the system" in err


def test_huge_image_is_refused_before_decoding(tmp_path, capsys):
    path = tmp_path / "huge.png"
    # 20000 x 20000 black pixels: a few hundred kilobytes that decode to 400 MB.
    Image.new("1", (20000, 20000)).save(path)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(UserError, match="megapixels"):
        prepare_image(path)
    err = _one_line_exit_2(["predict", str(tmp_path / "no-run"), str(path)], capsys)
    assert str(path) in err and "Downscale" in err
    medium = tmp_path / "medium.png"  # 64 MP: above fashionlab's limit, under Pillow's own warning
    Image.new("1", (8000, 8000)).save(medium)
    with pytest.raises(UserError, match="8000 x 8000 pixels, over the 50 megapixels"):
        prepare_image(medium)


def test_unreadable_image(tmp_path, monkeypatch):
    import PIL.Image

    path = tmp_path / "x.png"
    Image.fromarray(item_image()).save(path)

    def denied(fp, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(fp))

    monkeypatch.setattr(PIL.Image, "open", denied)
    with pytest.raises(UserError, match=r"cannot read the file \(Permission denied\)"):
        prepare_image(path)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from conftest import write_dataset
    from fashionlab.experiment import load_config
    from fashionlab.training import train

    root = tmp_path_factory.mktemp("predict-input")
    data = write_dataset(root / "data")
    return train(load_config("ann-3", {"epochs": 1, "device": "cpu"}), root / "run",
                 data_dir=data, progress=False, log=lambda s: None).run_dir


@pytest.mark.parametrize("top", ["0", "-2", "11", "100"])
def test_top_must_be_between_1_and_the_number_of_classes(run_dir, tmp_path, capsys, top):
    image = tmp_path / "item.png"
    Image.fromarray(item_image()).save(image)
    err = _one_line_exit_2(["predict", str(run_dir), str(image), f"--top={top}"], capsys)
    assert f"--top {top}" in err and ("1 to 10" in err if int(top) > 0 else "1 or more" in err)


def test_top_10_prints_every_class(run_dir, tmp_path, capsys):
    image = tmp_path / "item.png"
    Image.fromarray(item_image()).save(image)
    assert main(["predict", str(run_dir), str(image), "--top", "10"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.count(",") == 9 and out.startswith(str(image))


def _damaged_images(folder):
    """A truncated LZW TIFF (libtiff reports it on the C stderr) and a PNG whose EXIF block claims
    nine entries but holds one (Pillow warns, and the picture itself is fine)."""
    import io
    import struct
    import zlib

    buffer = io.BytesIO()
    Image.fromarray(item_image()).save(buffer, "TIFF", compression="tiff_lzw")
    cut = folder / "cut.tif"
    cut.write_bytes(buffer.getvalue()[:-60])
    exif = Image.Exif()
    exif[0x0112] = 1  # orientation: as stored
    buffer = io.BytesIO()
    Image.fromarray(item_image()).save(buffer, "PNG", exif=exif.tobytes())
    data = bytearray(buffer.getvalue())
    at = data.find(b"eXIf")
    length = struct.unpack(">I", data[at - 4 : at])[0]
    data[at + 12 : at + 14] = b"\x00\x09"  # the IFD's entry count
    data[at + 4 + length : at + 8 + length] = struct.pack(">I", zlib.crc32(bytes(data[at : at + 4 + length])))
    bad_exif = folder / "bad-exif.png"
    bad_exif.write_bytes(bytes(data))
    return cut, bad_exif


def test_a_damaged_tiff_is_one_line_even_on_the_c_stderr(tmp_path, capfd):
    cut, _ = _damaged_images(tmp_path)
    code = main(["predict", str(tmp_path / "no-run"), str(cut)])
    err = capfd.readouterr().err  # file descriptor 2 itself, where libtiff writes
    assert code == 2 and err.strip().splitlines() == [err.strip()], err
    assert f"{cut}: not a readable image" in err


def test_pillow_warnings_name_the_file_once(tmp_path):
    _, bad_exif = _damaged_images(tmp_path)
    clean = tmp_path / "clean.png"
    Image.fromarray(item_image()).save(clean)
    with pytest.warns(UserWarning) as caught:
        prepared = prepare_image(bad_exif)
    messages = [str(w.message) for w in caught]
    assert len(messages) == len(set(messages)) and any(m.startswith(f"{bad_exif}: Corrupt EXIF") for m in messages)
    assert correlation(prepared.image, prepare_image(clean).image) > 0.99
