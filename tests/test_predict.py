import numpy as np
import pytest
from PIL import Image

from fashionlab import load_dataset
from fashionlab.cli import main
from fashionlab.experiment import load_config
from fashionlab.predict import predict_images, prepare_image
from fashionlab.training import train

from conftest import one_line_exit_2

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


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    from conftest import write_dataset

    folder = tmp_path_factory.mktemp("predict-run")
    data = write_dataset(folder / "data")
    return train(load_config("ann-3", {"epochs": 1, "device": "cpu"}), folder / "run", data_dir=data,
                 progress=False, log=lambda s: None).run_dir


def test_one_unreadable_file_does_not_stop_the_others(small_run, tmp_path, capsys):
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    Image.fromarray(item_image()).save(good)
    bad.write_text("not an image")
    assert main(["predict", str(small_run), str(bad), str(good), str(tmp_path / "missing.jpg")]) == 2
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{good}: ") and len(captured.out.strip().splitlines()) == 1
    assert f"error: {bad}: not a readable image" in captured.err and "missing.jpg: no such file" in captured.err
    assert "2 of 3 files could not be read; the others are answered above" in captured.err
    results = predict_images(small_run, [bad, good])
    assert results[0].error and not results[0].top and results[1].error is None and len(results[1].top) == 3


def test_blank_and_near_uniform_images_say_no_item_found(small_run, tmp_path, capsys):
    blank, speckled, item = tmp_path / "blank.png", tmp_path / "wall.jpg", tmp_path / "item.png"
    Image.new("RGB", (300, 200), "white").save(blank)
    noise = np.random.default_rng(0).integers(-6, 7, size=(120, 160))
    Image.fromarray((180 + noise).astype(np.uint8)).save(speckled, quality=90)
    Image.fromarray(item_image()).save(item)
    results = {r.path.name: r for r in predict_images(small_run, [blank, speckled, item])}
    assert results["blank.png"].notes[0].startswith("no item found") and "contrast 0 of 255" in results["blank.png"].notes[0]
    assert results["wall.jpg"].notes[0].startswith("no item found")
    assert not any(n.startswith("no item found") for n in results["item.png"].notes)
    assert main(["predict", str(small_run), str(blank)]) == 0
    assert f"warning: {blank}: no item found" in capsys.readouterr().err


def test_low_confidence_is_noted_below_one_half():
    from fashionlab.predict import Prepared, prediction_notes

    prepared = Prepared(item_image(), inverted=False, contrast=200.0)
    note = prediction_notes(prepared, [("Pullover", 0.49), ("Coat", 0.4), ("Shirt", 0.11)])[0]
    assert note.startswith("low confidence (0.49): the model is unsure between Pullover and Coat (0.40)")
    assert prediction_notes(prepared, [("Pullover", 0.51), ("Coat", 0.4)]) == []


def test_show_draws_each_input_beside_its_probabilities(small_run, tmp_path, capsys):
    item, blank, bad = tmp_path / "item.png", tmp_path / "blank.png", tmp_path / "bad.png"
    Image.fromarray(item_image()).save(item)
    Image.new("L", (50, 50), 0).save(blank)
    bad.write_bytes(b"\x89PNG broken")
    out = tmp_path / "shown.png"
    assert main(["predict", str(small_run), str(item), str(bad), str(blank), "--show", str(out)]) == 2
    assert f"wrote {out}" in capsys.readouterr().out
    with Image.open(out) as figure:
        width, height = figure.size
    assert 0.45 < height / width < 0.85  # two rows of 9 x 2.9 inches: one row is 0.32, three 0.97
    err = one_line_exit_2(["predict", str(small_run), str(item), "--show", str(tmp_path)], capsys)
    assert "--show" in err and "is a directory" in err


def test_show_draws_at_most_max_shown_rows_and_only_a_figure_format(small_run, tmp_path, capsys, monkeypatch):
    from fashionlab import predict_figure

    monkeypatch.setattr(predict_figure, "MAX_SHOWN", 2)
    images = []
    for i in range(3):
        images.append(tmp_path / f"item{i}.png")
        Image.fromarray(item_image()).save(images[-1])
    out = tmp_path / "shown.png"
    assert main(["predict", str(small_run), *map(str, images), "--show", str(out)]) == 0
    assert f"wrote {out} (the first 2 of 3 images; give fewer images to draw the others)" in capsys.readouterr().out
    with Image.open(out) as figure:
        assert 0.45 < figure.size[1] / figure.size[0] < 0.85  # two rows, as above
    err = one_line_exit_2(["predict", str(small_run), str(images[0]), "--show", str(tmp_path / "shown.txt")], capsys)
    assert "--show" in err and "give a file name ending in .png" in err and not (tmp_path / "shown.txt").exists()


def test_show_with_a_loop_of_links_among_the_images_names_it_and_draws_the_rest(small_run, tmp_path, capsys):
    item, loop, out = tmp_path / "item.png", tmp_path / "loop", tmp_path / "shown.png"
    Image.fromarray(item_image()).save(item)
    loop.symlink_to(loop)
    assert main(["predict", str(small_run), str(loop), str(item), "--show", str(out)]) == 2
    captured = capsys.readouterr()
    assert "loop of links" in captured.err and "Traceback" not in captured.err
    assert f"wrote {out}" in captured.out and out.exists()
