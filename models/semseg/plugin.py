"""What the crack preset needs from the engine, registered on import (``SURVEY.IMPORTS``).

- the head :class:`~models.semseg.head.CrackSemSegFPNHead` (detectron2's head registry);
- the config keys of :mod:`models.semseg.config`;
- the mapper ``crack_semantic`` (:class:`~models.semseg.mapper.CrackSemanticMapper`) and the
  evaluator ``crack_f1`` (:func:`~models.semseg.evaluate.crack_f1_evaluator`) in
  :mod:`models.training.registry`.
"""

from __future__ import annotations

from typing import Any

import models.semseg.config
import models.semseg.head  # noqa: F401  (CrackSemSegFPNHead)
from models.semseg.evaluate import crack_f1_evaluator
from models.semseg.mapper import CrackSemanticMapper
from models.training.registry import EVALUATORS, MAPPERS

__all__ = ["crack_semantic_mapper"]


def crack_semantic_mapper(cfg: Any, is_train: bool) -> CrackSemanticMapper:
    """Factory of the ``crack_semantic`` mapper."""
    return CrackSemanticMapper.from_cfg(cfg, is_train=is_train)


MAPPERS.register("crack_semantic")(crack_semantic_mapper)
EVALUATORS.register("crack_f1")(crack_f1_evaluator)
