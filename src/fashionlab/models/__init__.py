"""Models: the paper's ANNs and CNNs, Keras-flavoured layers, the registry and summaries."""

from .registry import build_model, model_entry, model_names

__all__ = ["build_model", "model_entry", "model_names"]
