import numpy as np
import pytest
from PIL import Image

from fashionlab import load_dataset
from fashionlab.cli import main
from fashionlab.experiment import load_config
from fashionlab.predict import predict_images, prepare_image
from fashionlab.training import train

pytestmark = pytest.mark.filterwarnings("ignore:.*unknown.*:UserWarning")


def item_image():
    """A light 'item' (a filled trapezoid) on black, spanning the frame like a Fashion-MNIST image."""
    image = np.zeros((28, 28), dtype=np.uint8)
    for row in range(28):
        half = 3 + row // 4
        image[row, 14 - half : 14 + half] = 200
    return image


def as_photo(image: np.ndarray, scale=8, pad=60) -> Image.Image:
    """Dark-on-light, larger, off-centre, RGB: how a phone photo of the item might look."""
    big = Image.fromarray(255 - image).resize((28 * scale, 28 * scale), Image.Resampling.BILINEAR)
    canvas = Image.new("L", (28 * scale + 2 * pad, 28 * scale + pad), 255)
    canvas.paste(big, (pad + 25, pad // 2))
    return canvas.convert("RGB")


def correlation(a, b):
    return float(np.corrcoef(a.astype(float).ravel(), b.astype(float).ravel())[0, 1])


def test_light_on_dark_image_is_kept(tmp_path):
    path = tmp_path / "item.png"
    Image.fromarray(item_image()).save(path)
    prepared = prepare_image(path)
    assert not prepared.inverted and prepared.image.shape == (28, 28) and prepared.image.dtype == np.uint8
    assert correlation(prepared.image, item_image()) > 0.95


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_dark_on_light_photo_is_inverted_cropped_and_centred(tmp_path, suffix):
    path = tmp_path / f"photo{suffix}"
    as_photo(item_image()).save(path)
    prepared = prepare_image(path)
    assert prepared.inverted
    corners = prepared.image[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert corners.max() < 40  # dark background
    assert prepared.image.max() == 255
    assert correlation(prepared.image, item_image()) > 0.9


def test_transparent_png_composited_on_white(tmp_path):
    rgba = np.zeros((56, 56, 4), dtype=np.uint8)
    rgba[10:46, 20:36] = (30, 30, 30, 255)  # an opaque dark item on a transparent background
    path = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(path)
    prepared = prepare_image(path)
    assert prepared.inverted and prepared.image[14, 14] > 200 and prepared.image[14, 0] == 0


def test_unreadable_file_exit_2(tmp_path, capsys):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    run = tmp_path / "no-run"
    assert main(["predict", str(run), str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "not a readable image" in err and "Traceback" not in err
    assert main(["predict", str(run), str(tmp_path / "missing.jpg")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_predict_cli_prints_top_3(synthetic_dir, tmp_path, capsys):
    run = train(load_config("ann-3", {"epochs": 1, "device": "cpu"}), tmp_path / "run",
                data_dir=synthetic_dir, progress=False, log=lambda s: None).run_dir
    light, dark = tmp_path / "light.png", tmp_path / "dark.jpg"
    Image.fromarray(item_image()).save(light)
    as_photo(item_image()).save(dark)
    assert main(["predict", str(run), str(light), str(dark)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "inverted" not in lines[0] and "inverted" in lines[1]
    probs = [float(tok) for tok in lines[0].split(":", 1)[1].replace(",", " ").split() if tok[0].isdigit()]
    assert len(probs) == 3 and probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6


def test_predict_on_real_test_images(real_data, tmp_path):
    """A model trained on real data classifies real test images saved as PNG and as dark-on-light photos."""
    run = train(load_config("ann-3", {"epochs": 2, "train_limit": 10000, "device": "cpu"}), tmp_path / "run",
                data_dir=real_data, progress=False, log=lambda s: None)
    ds = load_dataset(data_dir=real_data)
    paths, labels = [], []
    for i in range(40):
        png, photo = tmp_path / f"{i}.png", tmp_path / f"{i}-photo.jpg"
        Image.fromarray(np.asarray(ds.test_images[i])).save(png)
        as_photo(np.asarray(ds.test_images[i])).save(photo, quality=95)
        paths += [png, photo]
        labels += [int(ds.test_labels[i])] * 2
    results = predict_images(run.run_dir, paths)
    top1 = np.array([ds.classes.index(r.top[0][0]) for r in results])
    on_png = (top1[0::2] == labels[0::2]).mean()
    on_photo = (top1[1::2] == labels[1::2]).mean()
    assert on_png >= 0.7, on_png
    assert on_photo >= 0.6, on_photo
    assert all(r.inverted for r in results[1::2]) and not any(r.inverted for r in results[0::2])
