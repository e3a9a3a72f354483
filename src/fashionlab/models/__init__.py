"""Models: the paper's ANNs and CNNs, Keras-flavoured layers, the registry and summaries.

Importing this package registers every model: the model modules register on import.
"""

from . import fast, paper  # noqa: F401  (registers the models)
from .registry import build_model, model_entry, model_names

__all__ = ["build_model", "model_entry", "model_names"]
