"""Model registry: a name -> factory map with one-line descriptions (timm-style)."""

from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches
from typing import Callable

from torch import nn

from ..errors import UserError


@dataclass(frozen=True)
class ModelEntry:
    name: str
    description: str
    factory: Callable[[], nn.Module]


MODELS: dict[str, ModelEntry] = {}


def register(name: str, description: str):
    def wrap(factory: Callable[[], nn.Module]):
        MODELS[name] = ModelEntry(name, description, factory)
        return factory

    return wrap


def _load_all() -> None:
    from . import fast, paper  # noqa: F401  (registers on import)


def model_names() -> list[str]:
    _load_all()
    return list(MODELS)


def model_entry(name: str) -> ModelEntry:
    _load_all()
    if name not in MODELS:
        hint = get_close_matches(name, MODELS, n=1)
        did_you_mean = f" Did you mean {hint[0]!r}?" if hint else ""
        raise UserError(f"unknown model {name!r}.{did_you_mean} `fashionlab models list` shows them all.")
    return MODELS[name]


def build_model(name: str) -> nn.Module:
    return model_entry(name).factory()
