"""The evaluation report: COCO AP, per-class results, operating-point precision/recall; JSON I/O.

Examples
--------
>>> r = EvalReport(n_images=1, n_gt=2, n_det=2, score_threshold=0.5, iou_threshold=0.5,
...                match_on="mask", bbox={"AP": 0.5}, segm={"AP": 0.25}, tp=1, fp=1, fn=1,
...                per_class={"crack": ClassResult(0.5, 0.25, 2, 1, 1, 1)})
>>> r.precision, r.recall, r.flat()["segm/AP"]
(0.5, 0.5, 0.25)
>>> EvalReport.from_dict(r.to_dict()) == r
True
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ClassResult", "EvalReport", "format_report", "nan_to_none"]


def _ratio(a: int, b: int) -> float:
    return a / b if b else math.nan


@dataclass(frozen=True)
class ClassResult:
    """One class: AP (box, mask; NaN when the class has no ground truth) and operating-point counts."""

    box_ap: float
    mask_ap: float
    n_gt: int
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)


@dataclass(frozen=True)
class EvalReport:
    """Evaluation of one model on one dataset (see :mod:`models.evaluation.coco`)."""

    n_images: int
    n_gt: int
    n_det: int
    score_threshold: float
    iou_threshold: float
    match_on: str
    bbox: dict[str, float]
    segm: dict[str, float]
    tp: int
    fp: int
    fn: int
    per_class: dict[str, ClassResult] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else (math.nan if math.isnan(p + r) else 0.0)

    def flat(self) -> dict[str, float]:
        """Flat ``"group/metric"`` numbers (what training logs and compares)."""
        out = {f"bbox/{k}": v for k, v in self.bbox.items()}
        out.update({f"segm/{k}": v for k, v in self.segm.items()})
        out.update({"op/precision": self.precision, "op/recall": self.recall, "op/f1": self.f1})
        for c, r in self.per_class.items():
            out[f"bbox/AP-{c}"] = r.box_ap
            if self.segm:
                out[f"segm/AP-{c}"] = r.mask_ap
            out[f"op/precision-{c}"] = r.precision
            out[f"op/recall-{c}"] = r.recall
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; NaN (undefined: no ground truth, no detections) becomes None."""
        d = asdict(self)
        d["precision"], d["recall"], d["f1"] = self.precision, self.recall, self.f1
        return nan_to_none(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvalReport:
        fields = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        for key in ("bbox", "segm"):
            fields[key] = {k: math.nan if v is None else v for k, v in fields.get(key, {}).items()}
        fields["per_class"] = {
            c: ClassResult(
                box_ap=math.nan if r["box_ap"] is None else float(r["box_ap"]),
                mask_ap=math.nan if r["mask_ap"] is None else float(r["mask_ap"]),
                n_gt=int(r["n_gt"]),
                tp=int(r["tp"]),
                fp=int(r["fp"]),
                fn=int(r["fn"]),
            )
            for c, r in d.get("per_class", {}).items()
        }
        return cls(**fields)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> EvalReport:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def nan_to_none(x: Any) -> Any:
    """NaN -> None, recursively (strict JSON has no NaN)."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: nan_to_none(v) for k, v in x.items()}
    if isinstance(x, list):
        return [nan_to_none(v) for v in x]
    return x


def _f(v: float) -> str:
    return "  n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:5.1f}"


def format_report(r: EvalReport) -> str:
    """A readable table (percentages)."""
    lines = [
        f"{r.n_images} images, {r.n_gt} ground-truth instances, {r.n_det} detections",
        "          AP  AP50  AP75   APs   APm   APl",
    ]
    for name, st in (("box", r.bbox), ("mask", r.segm)):
        if st:
            lines.append(
                f"{name:5s} "
                + " ".join(
                    _f(st.get(k, math.nan)) for k in ("AP", "AP50", "AP75", "APs", "APm", "APl")
                )
            )
    lines.append(
        f"at score >= {r.score_threshold:g}, {r.match_on} IoU >= {r.iou_threshold:g}: "
        f"precision {_f(r.precision).strip()} %, recall {_f(r.recall).strip()} %, F1 {_f(r.f1).strip()} % "
        f"(TP {r.tp}, FP {r.fp}, FN {r.fn})"
    )
    lines.append(
        f"{'class':24s} {'n_gt':>5s} {'boxAP':>6s} {'maskAP':>6s} {'prec':>6s} {'recall':>6s}"
    )
    for c, cr in r.per_class.items():
        lines.append(
            f"{c[:24]:24s} {cr.n_gt:5d} {_f(cr.box_ap):>6s} {_f(cr.mask_ap):>6s} {_f(cr.precision):>6s} {_f(cr.recall):>6s}"
        )
    return "\n".join(lines)
