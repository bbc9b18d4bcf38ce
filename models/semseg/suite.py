"""A model suite: semantic models for thin, linear classes and instance models for compact ones.

One list of model specs (``survey predict --model``, or ``[predict] models`` in the survey
config) names every model the pipeline runs on a frame. A spec is a shipped model name
(``default``: the crack model, see :mod:`models.weights`), a self-contained model file, a
training run folder, or a weights file beside its ``config.yaml``. The kind is read from the
model: a detectron2 ``SemanticSegmentor`` runs through :class:`~models.semseg.predict.SemSegPredictor`
(tiled probabilities, thresholds), any other meta-architecture through the instance
:class:`models.predictor.Predictor` (Mask R-CNN, tiled, :class:`~models.detections.Detections`).

The suite merges what its models find into one :class:`FrameResult`: a mask per class (two
models naming the same class are OR-ed; for semantic classes, the pixels of the reported
instances, so specks below ``min_area_px`` are not in the mask either) and one list of
instances. Semantic classes become
instances through :func:`models.crack.measure_cracks` (connected components, skeleton length,
widths, orientation, severity when the GSD is known); instance detections keep the model's
score and outline and are measured the same way, so every instance carries length and width.
Classes listed in ``linear_classes`` are graded on the crack severity scale.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.crack import CrackSeverityScale, measure_cracks
from models.errors import ModelError

__all__ = ["FrameResult", "ModelSuite", "model_kind", "resolve_model"]

log = logging.getLogger(__name__)


def resolve_model(spec: str | Path) -> Path:
    """The file or folder of a model spec: a shipped name (semantic ones in
    :mod:`models.weights`, instance ones in :mod:`models.default_model`) or an existing path."""
    from models.weights import SHIPPED, shipped_model_path

    s = str(spec)
    if s in SHIPPED:
        return shipped_model_path(s)
    from models.default_model import SHIPPED_INSTANCE_MODELS, shipped_instance_model

    if s in SHIPPED_INSTANCE_MODELS:
        return Path(shipped_instance_model(s))
    p = Path(s).expanduser()
    if not p.exists():
        names = sorted({*SHIPPED, *SHIPPED_INSTANCE_MODELS})
        raise ModelError(
            f"no such model: not a shipped name ({', '.join(names)}) nor an existing model "
            "file or run folder",
            path=p,
        )
    return p


def _config_yaml_of(p: Path) -> Path | None:
    c = p / "config.yaml" if p.is_dir() else p.parent / "config.yaml"
    return c if c.is_file() else None


def embedded_meta(path: Path) -> dict[str, Any]:
    """The ``meta`` a self-contained model file carries (recipe, scores, ``gsd_m`` it was trained
    at ...); ``{}`` for a folder, a checkpoint or a file without one."""
    import json
    import pickle
    import zipfile

    import torch

    if not path.is_file() or not zipfile.is_zipfile(path):
        return {}
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError):
        return {}
    meta = obj.get("meta") if isinstance(obj, dict) else None
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            return {}
    return dict(meta) if isinstance(meta, dict) else {}


def embedded_config_text(path: Path) -> str | None:
    """The YAML config embedded in a model file (``cfg`` or ``config_yaml``), if any."""
    import pickle
    import zipfile

    import torch

    if not zipfile.is_zipfile(path):
        raise ModelError(
            "not a readable torch model file (expected torch.save's zip format)", path=path
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise ModelError(f"not a readable torch model file ({exc})", path=path) from exc
    except pickle.UnpicklingError:  # a checkpoint with optimiser state: no embedded config
        return None
    if not isinstance(obj, dict):
        return None
    text = obj.get("cfg") or obj.get("config_yaml")
    return str(text) if text else None


def model_kind(path: Path) -> str:
    """``"semantic"`` or ``"instance"``, read from the model's config."""
    import yaml

    cfg_file = _config_yaml_of(path)
    if cfg_file is not None:
        source, text = cfg_file, cfg_file.read_text(encoding="utf-8")
    elif path.is_dir():
        raise ModelError("not a run folder (no config.yaml)", path=path)
    else:
        emb = embedded_config_text(path)
        if emb is None:
            raise ModelError(
                "no config: neither a config.yaml beside the weights nor one embedded in them",
                path=path,
            )
        source, text = path, emb
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ModelError(f"config is not valid YAML ({exc})", path=source) from exc
    kind = (doc.get("SURVEY") or {}).get("KIND")
    if kind in ("semantic", "instance"):
        return str(kind)
    arch = (doc.get("MODEL") or {}).get("META_ARCHITECTURE", "GeneralizedRCNN")
    return "semantic" if arch == "SemanticSegmentor" else "instance"


@dataclass(frozen=True)
class FrameResult:
    """What a suite found in one frame.

    ``masks`` is ``(K, H, W)`` bool, one per name in ``class_names``; ``instances`` are
    JSON-ready dicts (``class``, ``score``, ``polygon``, lengths, widths, ``severity``, and
    ``model``: the spec of the model that found it).
    """

    class_names: tuple[str, ...]
    masks: np.ndarray
    instances: list[dict[str, Any]] = field(default_factory=list)

    @property
    def union(self) -> np.ndarray:
        """Boolean ``(H, W)``: any class."""
        if not len(self.class_names):
            return np.zeros(self.masks.shape[1:], bool)
        return np.asarray(self.masks.any(axis=0))


class _Member:
    """One model of a suite, with what its file's ``meta`` says about using it.

    ``defect_classes`` (meta ``defect_classes``): model class -> reported class, ``None`` for a
    class that is not a defect (a component detector's "clip", "bolt"); classes it does not
    name keep their names. ``gsd_m``: the ground sample distance it was trained at (0: not
    stated); ``max_gsd_m``: the coarsest frames it is run on (0: any).
    """

    def __init__(self, spec: str, path: Path, kind: str, predictor: Any) -> None:
        self.spec, self.path, self.kind, self.predictor = spec, path, kind, predictor
        meta = embedded_meta(path) if path.is_file() else {}
        dmap = meta.get("defect_classes")
        self.defect_classes: dict[str, str | None] = dict(dmap) if isinstance(dmap, dict) else {}
        self.gsd_m = float(meta.get("gsd_m") or 0.0)
        self.max_gsd_m = float(meta.get("max_gsd_m") or 0.0)

    @property
    def model_class_names(self) -> tuple[str, ...]:
        return tuple(self.predictor.class_names)

    def reported(self, cls: str) -> str | None:
        """The class a detection of model class ``cls`` is reported as (None: dropped)."""
        return self.defect_classes.get(cls, cls)

    @property
    def class_names(self) -> tuple[str, ...]:
        """The reported classes (model classes mapped, components left out)."""
        out: list[str] = []
        for c in self.model_class_names:
            r = self.reported(c)
            if r is not None and r not in out:
                out.append(r)
        return tuple(out)

    def runs_at(self, gsd_mm: float | None) -> bool:
        """Whether the model is run on a frame of this GSD (mm/px; None: unknown, run)."""
        return not (self.max_gsd_m > 0 and gsd_mm is not None and gsd_mm > 1000.0 * self.max_gsd_m)


class ModelSuite:
    """Several models run on each frame; see the module docstring.

    Parameters
    ----------
    specs : sequence of str
        Model specs (shipped names, model files, run folders).
    threshold : float, optional
        Overrides every model's operating threshold (semantic probability / instance score).
    linear_classes : sequence of str
        Classes graded on the crack severity scale (needs the GSD).
    scale : CrackSeverityScale, optional
        The crack severity scale.
    min_area_px, join_gap_px : int
        Instance extraction from semantic masks (see :func:`models.crack.measure_cracks`).
    threads : int, optional
        torch CPU threads.
    """

    def __init__(
        self,
        specs: Sequence[str | Path],
        *,
        threshold: float | None = None,
        linear_classes: Sequence[str] = ("crack",),
        scale: CrackSeverityScale | None = None,
        min_area_px: int = 10,
        join_gap_px: int = 3,
        threads: int | None = None,
        tta: str | None = None,
    ) -> None:
        if not specs:
            raise ModelError("a model suite needs at least one model")
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        self.linear_classes = frozenset(linear_classes)
        self.scale = scale or CrackSeverityScale()
        self.min_area_px, self.join_gap_px = int(min_area_px), int(join_gap_px)
        self.members: list[_Member] = []
        for spec in specs:
            path = resolve_model(spec)
            kind = model_kind(path)
            if kind == "semantic":
                from models.semseg.predict import SemSegPredictor

                pred: Any = SemSegPredictor.from_file(path, tta=tta or None)
                if threshold is not None:
                    pred.thresholds = (float(threshold),) * len(pred.class_names)
            else:
                from models.predictor import Predictor

                pred = Predictor.from_run(path, score_threshold=threshold)
            self.members.append(_Member(str(spec), path, kind, pred))
            log.info("model %s: %s, classes %s", spec, kind, list(pred.class_names))
        names: list[str] = []
        for m in self.members:
            names += [c for c in m.class_names if c not in names]
        self.class_names = tuple(names)

    def scale_groups(self, gsd_m: float = 0.0) -> list[tuple[tuple[int, ...], float]]:
        """Members that share a working scale: ``[(member indices, target GSD m), ...]``.

        ``gsd_m`` > 0 (``[process] detect_gsd_m``) is every member's target; otherwise each
        member's own training GSD (``meta`` ``gsd_m``; 0: frames are not resampled). A frame
        finer than its group's target is resampled to it before that group runs, so a coarse
        model (the simulated-rail detector, 28 mm/px) and a fine one (fastenings, 2.5 mm/px)
        each see the frame at their own scale.
        """
        groups: dict[float, list[int]] = {}
        for k, m in enumerate(self.members):
            groups.setdefault(float(gsd_m) if gsd_m > 0 else m.gsd_m, []).append(k)
        return [(tuple(v), g) for g, v in groups.items()]

    def __call__(
        self,
        image_bgr: np.ndarray,
        *,
        gsd_mm: float | None = None,
        roi: np.ndarray | None = None,
        members: Sequence[int] | None = None,
    ) -> FrameResult:
        """Run every model (or those at ``members``) on a BGR ``uint8`` frame and merge their
        findings.

        ``gsd_mm`` (mm per pixel) gives physical sizes and crack severity, and skips a model
        on frames coarser than its ``max_gsd_m``; ``roi`` (a pixel polygon or a boolean mask)
        limits the analysis to a region such as the asset corridor.
        """
        img = np.asarray(image_bgr)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ModelError(f"expected an HxWx3 uint8 BGR image, got {img.shape} {img.dtype}")
        h, w = img.shape[:2]
        masks = np.zeros((len(self.class_names), h, w), bool)
        instances: list[dict[str, Any]] = []
        for k, m in enumerate(self.members):
            if (members is not None and k not in members) or not m.runs_at(gsd_mm):
                continue
            if m.kind == "semantic":
                instances += self._semantic(m, img, masks, gsd_mm, roi)
            else:
                instances += self._instance(m, img, masks, gsd_mm, roi)
        return FrameResult(self.class_names, masks, instances)

    def _semantic(
        self,
        m: _Member,
        img: np.ndarray,
        masks: np.ndarray,
        gsd_mm: float | None,
        roi: np.ndarray | None,
    ) -> list[dict[str, Any]]:
        pred = m.predictor.predict(img, roi=roi)
        out: list[dict[str, Any]] = []
        for k, model_cls in enumerate(pred.class_names):
            cls = m.reported(model_cls)
            if cls is None:
                continue
            cracks = measure_cracks(
                pred.masks[k],
                prob=pred.probs[k],
                gsd_mm=gsd_mm,
                min_area_px=self.min_area_px,
                join_gap_px=self.join_gap_px,
                scale=self.scale,
            )
            # the class mask is the pixels of the reported instances (specks < min_area_px go)
            masks[self.class_names.index(cls)] |= cracks.labels > 0
            recs = cracks.to_records(cls)
            if cls not in self.linear_classes:
                for r in recs:
                    r["severity"] = None
            out += [{**r, "model": m.spec} for r in recs]
        return out

    def _instance(
        self,
        m: _Member,
        img: np.ndarray,
        masks: np.ndarray,
        gsd_mm: float | None,
        roi: np.ndarray | None,
    ) -> list[dict[str, Any]]:
        rgb = np.ascontiguousarray(img[..., ::-1])  # the instance predictor takes RGB
        dets = m.predictor(rgb, roi=roi)
        out: list[dict[str, Any]] = []
        names = dets.class_names or m.model_class_names
        for i in range(len(dets)):
            model_cls = names[int(dets.class_ids[i])]
            cls = m.reported(model_cls)
            if cls is None:
                continue  # a component, not a defect
            crop, x0, y0 = dets.mask_crop(i)
            masks[
                self.class_names.index(cls), y0 : y0 + crop.shape[0], x0 : x0 + crop.shape[1]
            ] |= crop
            meas = measure_cracks(
                crop, gsd_mm=gsd_mm, min_area_px=1, join_gap_px=0, scale=self.scale, polygons=False
            )
            polys = dets.polygons(i) if dets.has_masks else []
            ring = (
                max(polys, key=len)
                if polys
                else np.asarray(
                    [
                        [x0, y0],
                        [x0 + crop.shape[1], y0],
                        [x0 + crop.shape[1], y0 + crop.shape[0]],
                        [x0, y0 + crop.shape[0]],
                    ]
                )
            )
            rec = _aggregate(meas, cls, float(dets.scores[i]), ring, dets.boxes_xyxy[i], (x0, y0))
            if cls in self.linear_classes and gsd_mm is not None:
                wmm = (
                    rec["max_width_px" if self.scale.width_measure == "max" else "mean_width_px"]
                    * gsd_mm
                )
                rec["severity"] = int(
                    self.scale.grade(np.array([wmm]), np.array([rec["length_m"]]))[0]
                )
            if model_cls != cls:
                rec["model_class"] = model_cls
            out.append({**rec, "model": m.spec})
        return out


def _aggregate(
    meas: Any, cls: str, score: float, ring: np.ndarray, box: np.ndarray, offset: tuple[int, int]
) -> dict[str, Any]:
    """One record for an instance mask that may have several parts (measured in its window)."""
    g = meas.gsd_mm
    length = float(meas.length_px.sum()) if len(meas) else 0.0
    area = float(meas.area_px.sum()) if len(meas) else 0.0
    max_w = float(meas.max_width_px.max()) if len(meas) else 0.0
    mean_w = area / length if length > 0 else 0.0
    big = int(np.argmax(meas.area_px)) if len(meas) else -1
    if len(meas):
        a = meas.area_px.astype(float)
        cxy = (meas.centroid_xy * a[:, None]).sum(0) / a.sum() + np.asarray(offset, float)
    else:
        cxy = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], float)

    def mm(x: float, f: float, nd: int) -> float | None:
        return None if g is None else round(x * g * f, nd)

    return {
        "class": cls,
        "score": round(score, 4),
        "polygon": np.asarray(ring).round(1).tolist(),
        "holes": [],
        "bbox_xyxy": [round(float(v), 1) for v in box],
        "centroid_xy": [round(float(v), 1) for v in cxy],
        "area_px": int(area),
        "length_px": round(length, 1),
        "mean_width_px": round(mean_w, 2),
        "max_width_px": round(max_w, 2),
        "orientation_deg": None if big < 0 else round(float(meas.orientation_deg[big]), 1),
        "length_m": mm(length, 1e-3, 4),
        "mean_width_mm": mm(mean_w, 1.0, 2),
        "max_width_mm": mm(max_w, 1.0, 2),
        "area_m2": None if g is None else round(area * (g / 1000.0) ** 2, 6),
        "severity": None,
    }
