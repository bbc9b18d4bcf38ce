"""Which RGB models a run uses: ``[process] models`` (``auto`` = the shipped model that knows
the asset kind's defects), loading the suite, and the ground sample distance it was trained at.
"""

from __future__ import annotations

from typing import Any

from survey.config import Config
from survey.errors import SurveyError

__all__ = [
    "COMPANIONS",
    "KIND_CLASSES",
    "DetectionModelError",
    "MODELS_EXTRA",
    "load_suite",
    "model_specs",
    "models_installed",
    "shipped_model_classes",
    "shipped_models_for",
    "training_gsd",
]

#: RGB defect classes proper to each asset kind (docs/domain.md; "vegetation" belongs to both):
#: "auto" picks the shipped model that knows most of them
KIND_CLASSES: dict[str, frozenset[str]] = {
    "rail": frozenset({"broken_rail", "missing_fastener", "sleeper_defect", "rail_head_damage",
                       "ballast_defect", "drainage", "obstruction", "joint_defect",
                       "corrugation", "fastening_defect"}),
    "pipeline": frozenset({"coating_corrosion", "exposed_pipe", "third_party_activity",
                           "vegetation_stress", "erosion_subsidence", "surface_steam_water"}),
}  # fmt: skip


def shipped_model_classes(name: str) -> set[str]:
    """The defect classes a shipped model reports (its embedded config's classes, mapped by its
    ``meta`` ``defect_classes``, components left out); ``ModelError`` when the name is unknown
    or its file is not installed."""
    import yaml

    from models.semseg.suite import embedded_config_text, embedded_meta, resolve_model

    path = resolve_model(name)
    doc = yaml.safe_load(embedded_config_text(path) or "") or {}
    dmap = embedded_meta(path).get("defect_classes") or {}
    classes = [dmap.get(c, c) for c in (doc.get("SURVEY") or {}).get("CLASSES") or []]
    return {c for c in classes if c}


#: shipped specialist models that "auto" runs beside the chosen one, when installed: the
#: fastening detector (real track photos; only on frames of 4 mm/px or finer)
COMPANIONS: dict[str, tuple[str, ...]] = {"rail": ("fastening",)}


def shipped_models_for(kind: str) -> list[str]:
    """The shipped model that knows most of this asset kind's RGB defects, then its installed
    :data:`COMPANIONS`."""
    from models.default_model import SHIPPED_INSTANCE_MODELS
    from models.errors import ModelError
    from models.weights import SHIPPED

    found: list[tuple[int, int, str]] = []
    for k, name in enumerate(dict.fromkeys([*SHIPPED_INSTANCE_MODELS, *SHIPPED])):
        try:
            classes = shipped_model_classes(name)
        except ModelError:
            continue  # not installed
        n = len(classes & KIND_CLASSES.get(kind, frozenset()))
        if n:
            found.append((-n, k, name))
    if not found:
        return []
    best = min((f for f in found if f[2] not in COMPANIONS.get(kind, ())), default=min(found))[2]
    extra = [n for n in COMPANIONS.get(kind, ()) if n != best and n in {f[2] for f in found}]
    return [best, *extra]


MODELS_EXTRA = (
    "the RGB models need the 'models' extra (torch and detectron2): "
    "pip install 'railpipe-survey[models]' and python scripts/install_detectron2.py, or run "
    "`make venv` in a clone"
)


def models_installed() -> bool:
    """Whether torch and detectron2 can be imported (the ``models`` extra)."""
    from importlib.util import find_spec

    try:
        return all(find_spec(m) is not None for m in ("torch", "detectron2"))
    except (ImportError, ValueError):  # a module entry set to None (tests), a broken install
        return False


def model_specs(cfg: Config, asset_kind: str) -> list[str]:
    """The RGB model specs of a run: ``[process] models`` (empty = ``[predict] models``);
    ``auto`` = the shipped model that knows the asset kind's defects, else ``none`` (the
    frames are still selected, saved and reported, and the summary says so).

    Without the ``models`` extra (the core or onboard install), ``auto`` is ``none`` with a
    warning naming the extra (thermal analysis and everything else still run), and a named
    model is a :class:`DetectionModelError` saying which extra to install.
    """
    specs = list(cfg.process.models) or list(cfg.predict.models)
    wanted = [m for m in specs if m.lower() not in ("auto", "none")]
    if not models_installed():
        if wanted:
            raise DetectionModelError(f"[process] models = {wanted}: {MODELS_EXTRA}")
        if [m.lower() for m in specs] == ["auto"]:
            import logging

            logging.getLogger(__name__).warning(
                "no RGB defect detection: %s; RGB frames are still selected and saved",
                MODELS_EXTRA,
            )
        return ["none"]
    if [m.lower() for m in specs] == ["auto"]:
        specs = shipped_models_for(asset_kind) or ["none"]
    return specs


def load_suite(cfg: Config, specs: list[str]) -> Any:
    """The RGB model suite of ``specs``."""
    from models.crack import CrackSeverityScale
    from models.semseg.suite import ModelSuite

    p = cfg.predict
    return ModelSuite(
        specs,
        threshold=cfg.process.score_threshold or None,
        linear_classes=p.linear_classes,
        scale=CrackSeverityScale(
            tuple(p.crack_width_mm), tuple(p.crack_length_m), p.crack_width_measure
        ),
        min_area_px=p.min_area_px,
        join_gap_px=p.join_gap_px,
        threads=cfg.general.threads or None,
        tta=p.tta or None,
    )


class DetectionModelError(SurveyError, RuntimeError):
    """The RGB model suite cannot be loaded (unknown name, missing or unreadable file)."""


def training_gsd(suite: Any) -> float:
    """The finest ground sample distance the suite's general models were trained at (their
    ``meta`` ``gsd_m``; specialists with a ``max_gsd_m`` only when no other says), or 0."""
    found = [m.gsd_m for m in suite.members if m.gsd_m > 0 and not m.max_gsd_m]
    found = found or [m.gsd_m for m in suite.members if m.gsd_m > 0]
    return min(found) if found else 0.0
