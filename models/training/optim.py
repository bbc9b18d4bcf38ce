"""Optimizer from the config: AdamW (default for from-scratch training) or Detectron2's SGD.

Detectron2's ``build_optimizer`` only builds SGD; this adds AdamW with the same parameter groups
(no weight decay on norm layers when ``SOLVER.WEIGHT_DECAY_NORM`` is 0) and the same gradient
clipping (``SOLVER.CLIP_GRADIENTS``).
"""

from __future__ import annotations

from typing import Any

import torch
from detectron2.solver import build_optimizer as d2_build_optimizer
from detectron2.solver.build import get_default_optimizer_params, maybe_add_gradient_clipping

__all__ = ["build_optimizer"]


def build_optimizer(cfg: Any, model: torch.nn.Module) -> torch.optim.Optimizer:
    """The optimizer named by ``cfg.SURVEY.OPTIMIZER``."""
    if cfg.SURVEY.OPTIMIZER == "SGD":
        return d2_build_optimizer(cfg, model)
    params = get_default_optimizer_params(
        model,
        base_lr=cfg.SOLVER.BASE_LR,
        weight_decay_norm=cfg.SOLVER.WEIGHT_DECAY_NORM,
        bias_lr_factor=cfg.SOLVER.BIAS_LR_FACTOR,
        weight_decay_bias=cfg.SOLVER.WEIGHT_DECAY_BIAS,
    )
    opt = torch.optim.AdamW(params, lr=cfg.SOLVER.BASE_LR, weight_decay=cfg.SOLVER.WEIGHT_DECAY)
    return maybe_add_gradient_clipping(cfg, opt)
