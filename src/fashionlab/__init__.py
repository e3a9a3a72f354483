"""fashionlab: reproduce, compare and extend deep-learning experiments on Fashion-MNIST.

The Python API: `load_dataset`, `train`, `load_run`, `evaluate` (see fashionlab.api). Importing
the package loads neither PyTorch nor the models; the first call that needs them does.
"""

from .version import __version__
from .api import Run, evaluate, load_run, train  # noqa: E402  (torch loads inside the calls)
from .data import Dataset, load_dataset  # noqa: E402  (numpy only)

__all__ = ["__version__", "Dataset", "Run", "evaluate", "load_dataset", "load_run", "train"]
