"""Models: the paper's ANNs and CNNs, Keras-flavoured layers, the registry and summaries.

The registry (`registry.MODELS`) names every model without importing PyTorch; `build_model`
imports a model's module when it is first built.
"""

from .registry import build_model, canonical_model_name, model_entry, model_names

__all__ = ["build_model", "canonical_model_name", "model_entry", "model_names"]
