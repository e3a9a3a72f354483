"""Model registry: a name -> factory map with one-line descriptions and a family (timm-style).

It imports no model code: the model modules import `register` from here, and the package's
`__init__` imports those modules, so every model is registered once `fashionlab.models` is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from ..errors import UserError, did_you_mean

FAMILIES = ("ann", "cnn")  # fully connected networks; convolutional networks


@dataclass(frozen=True)
class ModelEntry:
    name: str
    description: str
    family: str
    factory: Callable[[], nn.Module]


MODELS: dict[str, ModelEntry] = {}


def register(name: str, description: str, family: str):
    if family not in FAMILIES:
        raise ValueError(f"model {name}: family must be one of {FAMILIES}, got {family!r}")

    def wrap(factory: Callable[[], nn.Module]):
        MODELS[name] = ModelEntry(name, description, family, factory)
        return factory

    return wrap


def model_names() -> list[str]:
    return list(MODELS)


def model_entry(name: str) -> ModelEntry:
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}.{did_you_mean(name, MODELS)} `fashionlab models list` shows them all.")
    return MODELS[name]


def build_model(name: str) -> nn.Module:
    return model_entry(name).factory()
