"""Known dataset releases: file names, md5 checksums, class names and download mirrors.

A release is identified by the md5s of its four files, so `fashionlab data info` can tell
which one a folder holds, and every result can name the release it was measured on. Folders of
uncompressed IDX files (torchvision's `raw/` after extraction, `gunzip`ped copies) are identified
by the md5s of the uncompressed files, where they are known: they are computed from a real copy,
never copied from elsewhere, so only releases that copy was available for have them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import UserError

SPLIT_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
TEST_FILES = (SPLIT_FILES["test_images"], SPLIT_FILES["test_labels"])

DIGIT_CLASSES = tuple(str(d) for d in range(10))
KUZUSHIJI_CLASSES = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")


def raw_name(gz_name: str) -> str:
    """The uncompressed file's name: train-images-idx3-ubyte.gz -> train-images-idx3-ubyte."""
    return gz_name[: -len(".gz")] if gz_name.endswith(".gz") else gz_name


@dataclass(frozen=True)
class Release:
    name: str
    description: str
    classes: tuple[str, ...]
    md5: dict[str, str]  # file name -> md5 of the (gzipped) file
    mirrors: tuple[str, ...]  # base URLs; a file's URL is mirror + file name
    # uncompressed file name -> md5 of the decompressed file; only where computed from a real copy
    raw_md5: dict[str, str] = field(default_factory=dict)

    def urls(self, filename: str) -> list[str]:
        return [mirror + filename for mirror in self.mirrors]

    def expected_md5(self, filename: str) -> str | None:
        """The md5 this release's file of that name has (gzipped or uncompressed); None if unknown."""
        return self.md5.get(filename) or self.raw_md5.get(filename)


RELEASES: dict[str, Release] = {
    r.name: r
    for r in (
        Release(
            name="fashion-mnist",
            description="Fashion-MNIST, current official release (2017-08-31, duplicates removed)",
            classes=FASHION_CLASSES,
            md5={
                "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
            },
            mirrors=(
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
            ),
        ),
        Release(
            name="fashion-mnist-2017-08-26",
            description="Fashion-MNIST as first published on 2017-08-26 (commit 9490065; 53 duplicate pairs)",
            classes=FASHION_CLASSES,
            md5={
                "train-images-idx3-ubyte.gz": "fd71388aa7f94e2917e7651c60050558",
                "train-labels-idx1-ubyte.gz": "c25fcebcfee76fc70679a885c08e7783",
                "t10k-images-idx3-ubyte.gz": "ae512e5a4d99649a9c255d99120a3bdd",
                "t10k-labels-idx1-ubyte.gz": "db06173b3df7891d78edf9cae5fe8f8a",
            },
            mirrors=(
                "https://github.com/zalandoresearch/fashion-mnist/raw/"
                "949006594cc2f804a93b9155849734564c3545ec/data/fashion/",
            ),
            # Computed with `gzip -dc FILE.gz | md5sum` from the copy in ../shared/datasets (whose .gz
            # md5s are those above); tests/test_releases.py recomputes them when FASHIONLAB_DATA is set.
            raw_md5={
                "train-images-idx3-ubyte": "c01dde82e1dd026da5fc37faa941555b",
                "train-labels-idx1-ubyte": "2ddd6a368b6f6176236d9ceeb813541d",
                "t10k-images-idx3-ubyte": "bed838e804a07f444cf2140da9841d5d",
                "t10k-labels-idx1-ubyte": "e02ce863a33cd8338b795da3a1142d3a",
            },
        ),
        Release(
            name="mnist",
            description="MNIST handwritten digits (LeCun, Cortes and Burges)",
            classes=DIGIT_CLASSES,
            md5={
                "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
                "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
            },
            mirrors=(
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "http://yann.lecun.com/exdb/mnist/",
            ),
        ),
        Release(
            name="kmnist",
            description="Kuzushiji-MNIST: ten cursive Japanese (hiragana) characters, MNIST's format",
            classes=KUZUSHIJI_CLASSES,
            md5={
                "train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
                "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
                "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
                "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134",
            },
            mirrors=(
                "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
                "https://storage.googleapis.com/kuzushiji-mnist/",
            ),
        ),
    )
}


def get_release(name: str) -> Release:
    try:
        return RELEASES[name]
    except KeyError:
        known = ", ".join(RELEASES)
        raise UserError(f"unknown release {name!r}; known releases: {known}.") from None


def _matches(release: Release, md5s: dict[str, str]) -> int:
    """How many of the release's four files are in `md5s` (file name as found, gzipped or not -> md5)."""
    def known_and_equal(name: str) -> bool:
        expected = release.expected_md5(name)
        return expected is not None and md5s.get(name) == expected

    return sum(known_and_equal(gz) or known_and_equal(raw_name(gz)) for gz in release.md5)


def identify(md5s: dict[str, str]) -> Release | None:
    """The release whose four files all match `md5s` (file name as found, gzipped or not -> md5), if any."""
    for release in RELEASES.values():
        if _matches(release, md5s) == len(release.md5):
            return release
    return None


def closest(md5s: dict[str, str]) -> tuple[Release, int]:
    """The release sharing the most files with `md5s`, and how many it shares."""
    scored = [(_matches(r, md5s), r) for r in RELEASES.values()]
    count, release = max(scored, key=lambda item: item[0])
    return release, count


def releases_with_raw_checksums() -> list[str]:
    return [r.name for r in RELEASES.values() if r.raw_md5]
