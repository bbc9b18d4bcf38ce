"""Registries that let a preset choose its training mapper and validation evaluator by name.

``SURVEY.MAPPER`` names an entry of :data:`MAPPERS`: ``factory(cfg, is_train) -> mapper`` where
a mapper turns one dataset record into the model's input dict (or returns None to skip a record
it cannot read). ``SURVEY.EVALUATOR`` names an entry of :data:`EVALUATORS`:
``evaluate(model, cfg, records, classes) -> dict[str, float]`` (flat ``"group/metric"`` keys;
``SURVEY.BEST_METRIC`` picks one of them). Modules listed in ``SURVEY.IMPORTS`` register theirs
at import, e.g.::

    from models.training.registry import MAPPERS, EVALUATORS

    @MAPPERS.register("crack_semantic")
    def crack_mapper(cfg, is_train): ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from models.errors import ModelConfigError

__all__ = ["EVALUATORS", "MAPPERS", "NamedRegistry"]


class NamedRegistry:
    """Name -> callable, filled by a decorator; unknown names give a clear config error."""

    def __init__(self, what: str, key: str) -> None:
        self.what, self.key = what, key
        self._items: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            self._items[name] = fn
            return fn

        return deco

    def get(self, name: str) -> Callable[..., Any]:
        if name not in self._items:
            raise ModelConfigError(
                f"no {self.what} named {name!r} (known: {', '.join(sorted(self._items)) or 'none'}); "
                "is the module that registers it in SURVEY.IMPORTS?",
                where=self.key,
            )
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)


MAPPERS = NamedRegistry("train mapper", "SURVEY.MAPPER")
EVALUATORS = NamedRegistry("evaluator", "SURVEY.EVALUATOR")
