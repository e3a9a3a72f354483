"""fashionlab: reproduce, compare and extend deep-learning experiments on Fashion-MNIST."""

__version__ = "0.1.0"

from .data import Dataset, load_dataset  # noqa: E402  (numpy only; torch loads on first use)

__all__ = ["__version__", "Dataset", "load_dataset"]
