"""Model presets: Detectron2 yacs configs shipped as YAML files, plus this project's keys.

A preset is a complete Detectron2 config (``get_cfg()`` defaults + the file) with a ``SURVEY``
node for what Detectron2 does not cover: class list, dataset specs, seed, threads, optimizer,
augmentation, operating threshold, tiling, and which registered mapper/evaluator to use.
Presets live in ``models/presets/*.yaml`` and in any ``models/<sub>/presets/*.yaml`` (the
semantic crack preset lives in ``models/semseg/presets``); :func:`list_presets` finds them all.

``SURVEY.IMPORTS`` lists modules to import before the config is merged and the model built, so
a preset can bring its own registered heads, mappers, evaluators and config keys (a module adds
keys by calling :func:`register_config_extension` at import). ``_BASE_`` works as in
Detectron2 (relative to the file).

Examples
--------
>>> {"mask_rcnn_R50_FPN", "mask_rcnn_R18_FPN_jetson"} <= set(list_presets())
True
>>> cfg = load_config("mask_rcnn_R18_FPN_jetson", ["SURVEY.SEED", "3"])
>>> cfg.MODEL.RESNETS.DEPTH, cfg.SURVEY.SEED, cfg.MODEL.WEIGHTS
(18, 3, '')
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from models.errors import ModelConfigError

__all__ = [
    "PRESET_DIR",
    "default_cfg",
    "list_presets",
    "load_config",
    "preset_path",
    "register_config_extension",
]

PRESET_DIR = Path(__file__).parent / "presets"
_EXTENSIONS: list[Callable[[Any], None]] = []


def register_config_extension(fn: Callable[[Any], None]) -> Callable[[Any], None]:
    """Register ``fn(cfg)`` that adds config keys; applied to every config built afterwards."""
    if fn not in _EXTENSIONS:
        _EXTENSIONS.append(fn)
    return fn


def _add_survey_keys(cfg: Any) -> None:
    from detectron2.config import CfgNode as CN

    s = cfg.SURVEY = CN()
    s.KIND = "instance"  # "instance" (boxes + masks) or "semantic" (per-pixel classes)
    s.IMPORTS = []  # modules to import first (they register heads, mappers, evaluators, keys)
    s.CLASSES = []  # class names; empty = taken from the training data
    s.DATASETS = CN()
    s.DATASETS.TRAIN = []  # dataset specs, PATH[:SPLIT] or a dataset .toml
    s.DATASETS.VAL = []
    s.SEED = 0
    s.THREADS = 1  # torch CPU threads for training (0 = torch's default)
    s.OPTIMIZER = "AdamW"  # "AdamW" or "SGD" (SOLVER.MOMENTUM, NESTEROV)
    s.MAPPER = "aerial"  # registered train mapper (models.training.registry.MAPPERS)
    s.EVALUATOR = "coco"  # registered evaluator (models.training.registry.EVALUATORS)
    s.BEST_METRIC = "segm/AP"  # validation metric that picks model_best.pth ("" = none)
    s.SCORE_THRESHOLD = 0.5  # operating threshold: detections below it are not reported
    s.MASK_DILATE_PX = 0  # dilate thin instance masks before Mask R-CNN's 28x28 targets
    s.EVAL_MAX_IMAGES = 0  # cap on validation images during training (0 = all)
    s.AUG = CN()
    s.AUG.HFLIP = True
    s.AUG.VFLIP = True
    s.AUG.ROT90 = True  # random multiples of 90 degrees (aerial views have no "up")
    s.AUG.BRIGHTNESS = [0.8, 1.2]
    s.AUG.CONTRAST = [0.8, 1.2]
    s.AUG.SATURATION = [0.9, 1.1]
    s.AUG.SCALE = [0.8, 1.25]  # random resize factor of the source image
    s.AUG.CROP_SIZE = 512  # square training crops (0 = whole image)
    s.AUG.CROP_FOCUS = 0.7  # fraction of crops centred near an instance
    s.TILE = CN()
    s.TILE.SIZE = 512  # tiled inference: tile side in pixels (also the export input size)
    s.TILE.OVERLAP = 96
    s.TILE.BATCH = 2
    s.TILE.MERGE_IOU = (
        0.5  # merge two tiles' detections when their masks agree this well in the overlap
    )
    s.TILE.MERGE_IOS = 0.7  # ... or when one covers this fraction of the smaller
    s.TILE.MAX_DIRECT_PX = 4_000_000  # frames up to this many pixels run in one pass


def default_cfg() -> Any:
    """Detectron2's ``get_cfg()`` with the ``SURVEY`` node and registered extensions."""
    try:
        from detectron2.config import get_cfg
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModelConfigError(
            f"detectron2 is not importable ({exc}); run scripts/install_detectron2.py"
        ) from exc
    cfg = get_cfg()
    _add_survey_keys(cfg)
    for ext in _EXTENSIONS:
        ext(cfg)
    return cfg


def list_presets() -> dict[str, Path]:
    """``{preset name: YAML path}`` of every preset shipped in the package."""
    root = Path(__file__).parent
    found: dict[str, Path] = {}
    for p in sorted(PRESET_DIR.glob("*.yaml")) + sorted(root.glob("*/presets/*.yaml")):
        if not p.name.startswith("_"):
            found.setdefault(p.stem, p)
    return found


def preset_path(preset: str | Path) -> Path:
    """The YAML file of a preset name, or the path itself when it is a file."""
    p = Path(preset)
    if p.suffix.lower() in (".yaml", ".yml"):
        if not p.is_file():
            raise ModelConfigError("config file not found", path=p)
        return p
    presets = list_presets()
    if str(preset) not in presets:
        raise ModelConfigError(f"unknown preset {preset!r}; known: {', '.join(sorted(presets))}")
    return presets[str(preset)]


def _imports_of(path: Path, seen: set[Path] | None = None) -> list[str]:
    """``SURVEY.IMPORTS`` of a YAML file and its ``_BASE_`` chain (without merging)."""
    seen = seen or set()
    path = path.resolve()
    if path in seen:
        raise ModelConfigError("_BASE_ chain loops", path=path)
    seen.add(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ModelConfigError(
            f"not valid YAML ({exc})", path=path, where=f"line {mark.line + 1}" if mark else None
        ) from exc
    if not isinstance(doc, dict):
        raise ModelConfigError("expected a mapping of config keys", path=path)
    out = []
    base = doc.get("_BASE_")
    if base and not str(base).startswith(("http://", "https://", "detectron2://")):
        out += _imports_of(path.parent / str(base), seen)
    out += list((doc.get("SURVEY") or {}).get("IMPORTS") or [])
    return out


def import_modules(names: Iterable[str]) -> None:
    """Import the modules a config names (``SURVEY.IMPORTS``)."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ModelConfigError(
                f"cannot import {name!r} ({exc})", where="SURVEY.IMPORTS"
            ) from exc


def load_config(preset: str | Path, overrides: Sequence[str] | None = None) -> Any:
    """Build a config from a preset name or YAML file, then ``KEY VALUE`` overrides.

    Raises :class:`ModelConfigError` naming the file and key on an unknown key or a bad value.
    """
    path = preset_path(preset)
    import_modules(_imports_of(path))
    ov = list(overrides or [])
    for i in range(0, len(ov) - 1, 2):
        if ov[i] == "SURVEY.IMPORTS":
            import_modules(yaml.safe_load(ov[i + 1]) or [])
    cfg = default_cfg()
    try:
        cfg.merge_from_file(str(path))
    except (KeyError, ValueError, TypeError, AssertionError) as exc:
        raise ModelConfigError(f"invalid config ({exc})", path=path) from exc
    if len(ov) % 2:
        raise ModelConfigError(f"overrides must be KEY VALUE pairs, got {ov}")
    try:
        cfg.merge_from_list(ov)
    except (KeyError, ValueError, TypeError, AssertionError) as exc:
        raise ModelConfigError(f"invalid override ({exc})", where=" ".join(ov)) from exc
    validate(cfg, path)
    return cfg


def validate(cfg: Any, path: Path | str | None = None) -> None:
    """Check the ``SURVEY`` keys that Detectron2 does not check itself."""
    s = cfg.SURVEY
    checks = [
        (
            s.KIND in ("instance", "semantic"),
            "SURVEY.KIND",
            f"must be 'instance' or 'semantic', got {s.KIND!r}",
        ),
        (
            s.OPTIMIZER in ("AdamW", "SGD"),
            "SURVEY.OPTIMIZER",
            f"must be 'AdamW' or 'SGD', got {s.OPTIMIZER!r}",
        ),
        (0.0 <= s.SCORE_THRESHOLD <= 1.0, "SURVEY.SCORE_THRESHOLD", "must be within [0, 1]"),
        (
            s.TILE.SIZE >= 64 and s.TILE.SIZE % 32 == 0,
            "SURVEY.TILE.SIZE",
            "must be a multiple of 32, >= 64",
        ),
        (
            0 <= s.TILE.OVERLAP < s.TILE.SIZE // 2,
            "SURVEY.TILE.OVERLAP",
            "must be within [0, TILE.SIZE / 2)",
        ),
        (
            len(s.AUG.SCALE) == 2 and 0 < s.AUG.SCALE[0] <= s.AUG.SCALE[1],
            "SURVEY.AUG.SCALE",
            "must be [lo, hi] with 0 < lo <= hi",
        ),
        (
            len(s.AUG.BRIGHTNESS) == 2 and len(s.AUG.CONTRAST) == 2,
            "SURVEY.AUG",
            "BRIGHTNESS/CONTRAST must be [lo, hi]",
        ),
        (0.0 <= s.AUG.CROP_FOCUS <= 1.0, "SURVEY.AUG.CROP_FOCUS", "must be within [0, 1]"),
    ]
    for ok, key, msg in checks:
        if not ok:
            raise ModelConfigError(msg, path=path, where=key)
