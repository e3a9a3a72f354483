"""The data layer: IDX files, known releases, the on-disk store and `load_dataset`."""

from .dataset import Dataset, load_dataset, split_training_set, validation_split
from .releases import RELEASES, Release, get_release

__all__ = ["Dataset", "load_dataset", "split_training_set", "validation_split", "RELEASES", "Release", "get_release"]
