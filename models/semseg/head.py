"""``CrackSemSegFPNHead``: detectron2's ``SemSegFPNHead`` with a loss made for thin structures.

Cracks cover ~1-2 % of a crop, so plain cross-entropy learns "all background". The head keeps
the Panoptic-FPN layers of ``SemSegFPNHead`` and replaces its loss by

    loss = CE_weighted(logits, target) + dice_weight * (1 - soft_dice(p_defect, target))

where the cross-entropy weights classes by ``MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS`` and the soft dice
is computed over the whole batch for every non-background class (pixels equal to
``IGNORE_VALUE`` are left out of both terms).
"""

from __future__ import annotations

from typing import Any

import torch
from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling.meta_arch.semantic_seg import SEM_SEG_HEADS_REGISTRY, SemSegFPNHead
from torch.nn import functional as F

__all__ = ["CrackSemSegFPNHead", "soft_dice_loss"]


def soft_dice_loss(
    probs: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor, eps: float = 1.0
) -> torch.Tensor:
    """Soft dice loss ``1 - 2|P∩T| / (|P| + |T|)`` averaged over the foreground classes.

    Parameters
    ----------
    probs : Tensor (N, K, H, W)
        Softmax probabilities.
    targets : Tensor (N, H, W) int64
        Class ids (values outside ``0..K-1`` must be masked out by ``valid``).
    valid : Tensor (N, H, W) bool
        Pixels that count.
    eps : float
        Smoothing added to numerator and denominator.

    Examples
    --------
    >>> import torch
    >>> t = torch.tensor([[[0, 1], [1, 0]]])
    >>> p = torch.stack([(t == 0).float(), (t == 1).float()], dim=1)
    >>> float(soft_dice_loss(p, t, torch.ones_like(t, dtype=torch.bool), eps=0.0))
    0.0
    """
    k = probs.shape[1]
    v = valid.unsqueeze(1).to(probs.dtype)
    onehot = F.one_hot(torch.where(valid, targets, 0), k).permute(0, 3, 1, 2).to(probs.dtype)
    p, t = probs[:, 1:] * v[:, :1], onehot[:, 1:] * v[:, :1]
    inter = (p * t).sum(dim=(0, 2, 3))
    denom = p.sum(dim=(0, 2, 3)) + t.sum(dim=(0, 2, 3))
    return (1.0 - (2.0 * inter + eps) / (denom + eps)).mean()


@SEM_SEG_HEADS_REGISTRY.register()
class CrackSemSegFPNHead(SemSegFPNHead):
    """``SemSegFPNHead`` trained with class-weighted cross-entropy + soft dice.

    Config keys beyond ``SemSegFPNHead``'s: ``MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS`` (one weight per
    class, background first; empty = 1 for background, 10 for each defect class) and
    ``MODEL.SEM_SEG_HEAD.DICE_WEIGHT``.
    """

    @configurable
    def __init__(
        self,
        input_shape: dict[str, ShapeSpec],
        *,
        class_weights: tuple[float, ...] = (),
        dice_weight: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(input_shape, **kwargs)
        n = self.predictor.out_channels
        if class_weights and len(class_weights) != n:
            raise ValueError(
                f"MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS has {len(class_weights)} values, "
                f"expected one per class ({n})"
            )
        default = [1.0] + [10.0] * (n - 1)  # thin defects: ~1-2 % of the pixels
        w = torch.tensor(class_weights or default, dtype=torch.float32)
        self.register_buffer("class_weights", w, persistent=False)
        self.dice_weight = float(dice_weight)

    @classmethod
    def from_config(cls, cfg: Any, input_shape: dict[str, ShapeSpec]) -> dict[str, Any]:
        ret: dict[str, Any] = super().from_config(cfg, input_shape)
        head = cfg.MODEL.SEM_SEG_HEAD
        ret["class_weights"] = tuple(float(x) for x in head.get("CLASS_WEIGHTS", ()))
        ret["dice_weight"] = float(head.get("DICE_WEIGHT", 1.0))
        return ret

    def losses(self, predictions: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        predictions = F.interpolate(
            predictions.float(),
            scale_factor=self.common_stride,
            mode="bilinear",
            align_corners=False,
        )
        ce = F.cross_entropy(
            predictions,
            targets,
            weight=self.class_weights.to(predictions.device),
            reduction="mean",
            ignore_index=self.ignore_value,
        )
        losses = {"loss_sem_seg": ce * self.loss_weight}
        if self.dice_weight > 0:
            valid = targets != self.ignore_value
            dice = soft_dice_loss(predictions.softmax(dim=1), targets, valid)
            losses["loss_dice"] = dice * self.dice_weight * self.loss_weight
        return losses
