"""Named registries (the dataset adapters, the backbones): a decorator files a function under a name."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def registrar(table: dict[str, T]) -> Callable[[str], Callable[[T], T]]:
    """`register = registrar(TABLE)`; then `@register("name")` puts the decorated function in TABLE."""

    def register(name: str) -> Callable[[T], T]:
        def wrap(fn: T) -> T:
            table[name] = fn
            return fn

        return wrap

    return register
