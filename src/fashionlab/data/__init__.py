"""The data layer: IDX files, known releases, the on-disk store and `load_dataset`."""

from .dataset import Dataset, load_dataset
from .releases import RELEASES, Release, get_release

__all__ = ["Dataset", "load_dataset", "RELEASES", "Release", "get_release"]
