"""The crack segmentation preset and its config keys, on the project's preset system.

The preset ``crack_semseg_R18_FPN`` (``models/semseg/presets``) is a complete detectron2 config
with the project's ``SURVEY`` node (see :mod:`models.config`); its ``SURVEY.IMPORTS`` loads
:mod:`models.semseg.plugin`, which registers the head, the ``crack_semantic`` mapper and the
``crack_f1`` evaluator, and (through this module) the keys detectron2 and ``SURVEY`` lack:

``MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS``, ``MODEL.SEM_SEG_HEAD.DICE_WEIGHT``
    Loss of :class:`~models.semseg.head.CrackSemSegFPNHead` (empty weights: 1 for background,
    10 for every defect class).
``SURVEY.CRACK.GAMMA``, ``BLUR_PROB``, ``NOISE_STD``, ``JPEG_PROB``, ``SHADOW_PROB``
    Aerial augmentation beyond ``SURVEY.AUG`` (see :mod:`models.semseg.augment`).

The rest is the engine's: ``SURVEY.CLASSES`` (without background), ``SURVEY.SCORE_THRESHOLD``
(the crack probability threshold), ``SURVEY.TILE.*`` (tiled inference), ``SURVEY.AUG.*``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from models.config import register_config_extension
from models.errors import ModelConfigError

__all__ = ["PRESET", "build_semseg_model", "cfg_from_yaml_text", "crack_semseg_cfg"]

PRESET = "crack_semseg_R18_FPN"


@register_config_extension
def add_semseg_keys(cfg: Any) -> None:
    """Add this module's keys (see the module docstring) to a config."""
    from detectron2.config import CfgNode as CN

    h = cfg.MODEL.SEM_SEG_HEAD
    if "CLASS_WEIGHTS" not in h:
        h.CLASS_WEIGHTS = []
        h.DICE_WEIGHT = 1.0
    if "CRACK" not in cfg.SURVEY:
        c = cfg.SURVEY.CRACK = CN()
        c.GAMMA = 0.3
        c.BLUR_PROB = 0.2
        c.NOISE_STD = 6.0
        c.JPEG_PROB = 0.3
        c.SHADOW_PROB = 0.2


def crack_semseg_cfg(
    *,
    classes: Sequence[str] = ("crack",),
    channels: int | None = None,
    class_weights: Sequence[float] | None = None,
    max_iter: int | None = None,
    overrides: Sequence[str] = (),
) -> Any:
    """The preset's config for ``classes`` (background is implicit), with a few common changes.

    Examples
    --------
    >>> cfg = crack_semseg_cfg(classes=("crack", "joint"), channels=64)
    >>> cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES, cfg.MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS
    (3, [1.0, 10.0, 10.0])
    """
    import models.semseg.plugin  # noqa: F401  (head, mapper, evaluator)
    from models.config import load_config

    names = [str(c) for c in classes]
    if not names:
        raise ModelConfigError("at least one class is needed", where="SURVEY.CLASSES")
    cfg = load_config(PRESET, list(overrides))
    cfg.SURVEY.CLASSES = names
    cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES = len(names) + 1
    weights = list(class_weights) if class_weights is not None else [1.0] + [10.0] * len(names)
    if len(weights) != len(names) + 1:
        raise ModelConfigError(
            f"class_weights needs {len(names) + 1} values (background first), got {len(weights)}",
            where="MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS",
        )
    cfg.MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS = [float(w) for w in weights]
    if channels is not None:
        cfg.MODEL.FPN.OUT_CHANNELS = cfg.MODEL.SEM_SEG_HEAD.CONVS_DIM = int(channels)
    if max_iter is not None:
        cfg.SOLVER.MAX_ITER = int(max_iter)
    return cfg


def cfg_from_yaml_text(text: str, *, source: str = "<model file>") -> Any:
    """A config from YAML text written by ``cfg.dump()`` (as embedded in model files)."""
    import yaml
    from detectron2.config import CfgNode as CN

    from models.config import default_cfg, import_modules

    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ModelConfigError(f"embedded config is not valid YAML ({exc})", path=source) from exc
    import_modules(["models.semseg.plugin", *((doc.get("SURVEY") or {}).get("IMPORTS") or [])])
    cfg = default_cfg()
    cfg.set_new_allowed(True)  # a file written by a newer version may carry extra keys
    try:
        cfg.merge_from_other_cfg(CN(doc))
    except (KeyError, ValueError, TypeError, AssertionError) as exc:
        raise ModelConfigError(f"embedded config does not fit ({exc})", path=source) from exc
    cfg.set_new_allowed(False)
    return cfg


def build_semseg_model(cfg: Any) -> Any:
    """Build the ``SemanticSegmentor`` of ``cfg`` (random weights) on ``cfg.MODEL.DEVICE``."""
    from detectron2.modeling import build_model

    import models.semseg.head  # noqa: F401

    return build_model(cfg)
