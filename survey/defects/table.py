"""Struct-of-arrays collections: :class:`DefectSet` and :class:`DetectionSet`."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import shapely

from survey.defects.records import Defect, Detection, Review
from survey.defects.schema import (
    DECISIONS,
    DEFECT_FIELDS,
    DETECTION_FIELDS,
    GEOMETRY_CRS,
    SIDES,
    DefectError,
    FieldSpec,
    iso_utc,
)

if TYPE_CHECKING:  # pragma: no cover
    from typing import Self  # 3.11+, annotations only (the Jetson runs 3.10)

    import geopandas as gpd

__all__ = ["DefectSet", "DetectionSet"]

_NAN = float("nan")
_NP_KIND = {"str": object, "float": np.float64, "int": np.int64, "bool": np.bool_}


class _Table:
    """Parallel numpy arrays, one per stored field, plus a shapely geometry array."""

    FIELDS: ClassVar[tuple[FieldSpec, ...]]
    RECORD: ClassVar[type]
    KEY: ClassVar[str]

    def __init__(self, geometry: Any = None, **columns: Any) -> None:
        stored = [f for f in self.FIELDS if not f.derived]
        unknown = set(columns) - {f.name for f in stored}
        if unknown:
            raise DefectError(f"unknown fields {sorted(unknown)}", where=type(self).__name__)
        if geometry is not None:
            n = len(geometry)
        else:
            n = len(columns[self.KEY]) if self.KEY in columns else 0
        defaults = {f.name: f.default for f in dataclasses.fields(self.RECORD)}
        self._cols: dict[str, np.ndarray] = {}
        for f in stored:
            if f.name in columns:
                arr: np.ndarray = np.asarray(columns[f.name], dtype=_NP_KIND[f.kind])
            else:
                d = defaults[f.name]
                fill = d if d is not dataclasses.MISSING else ("" if f.kind == "str" else _NAN)
                arr = np.full(n, fill, dtype=_NP_KIND[f.kind])
            if arr.shape != (n,):
                raise DefectError(
                    f"field {f.name!r} has shape {arr.shape}, expected ({n},)",
                    where=type(self).__name__,
                )
            self._cols[f.name] = arr
        geom = np.full(n, None, dtype=object) if geometry is None else np.asarray(geometry)
        if geom.shape != (n,):
            raise DefectError(f"geometry has shape {geom.shape}, expected ({n},)")
        self.geometry: np.ndarray = geom.astype(object)

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__.get("_cols")
        if cols is not None and name in cols:
            return cols[name]
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")

    def __len__(self) -> int:
        return len(self.geometry)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={len(self)})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or len(other) != len(self):
            return False
        for k, a in self._cols.items():
            b = other._cols[k]
            same = (a == b) | (_isnan(a) & _isnan(b)) if a.dtype.kind == "f" else a == b
            if not np.all(same):
                return False
        a_none = np.array([g is None for g in self.geometry], dtype=bool)
        b_none = np.array([g is None for g in other.geometry], dtype=bool)
        if not np.array_equal(a_none, b_none):
            return False
        both = ~a_none
        return bool(np.all(shapely.equals_exact(self.geometry[both], other.geometry[both], 1e-9)))

    __hash__ = None  # type: ignore[assignment]

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, int | np.integer):
            return self.record(int(idx))
        return type(self)(self.geometry[idx], **{k: v[idx] for k, v in self._cols.items()})

    def __iter__(self) -> Iterator[Any]:
        return (self.record(i) for i in range(len(self)))

    def record(self, i: int) -> Any:
        """Row ``i`` as a frozen record."""
        kw = {k: v[i].item() if v.dtype != object else v[i] for k, v in self._cols.items()}
        if "source_files" in kw:
            kw["source_files"] = tuple(s for s in str(kw["source_files"]).split(";") if s)
        return self.RECORD(geometry=self.geometry[i], **kw)

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """The stored fields (a read-only view of the arrays)."""
        return dict(self._cols)

    def index_of(self, key: str) -> int:
        """Row number of the record whose id is ``key``; KeyError when absent."""
        hits = np.flatnonzero(self._cols[self.KEY] == key)
        if not len(hits):
            raise KeyError(key)
        return int(hits[0])

    def with_columns(self, **columns: Any) -> Self:
        """A copy with some fields replaced by new arrays."""
        cols = {**self._cols, **{k: np.asarray(v) for k, v in columns.items()}}
        return type(self)(self.geometry.copy(), **cols)

    @classmethod
    def from_records(cls, records: Sequence[Any]) -> Self:
        """Build from records (all fields; ``source_files`` joined by ';')."""
        cols: dict[str, list[Any]] = {f.name: [] for f in cls.FIELDS if not f.derived}
        for r in records:
            for k, lst in cols.items():
                v = getattr(r, k)
                lst.append(";".join(v) if k == "source_files" else v)
        return cls([r.geometry for r in records], **cols)

    @classmethod
    def concat(cls, parts: Sequence[Self]) -> Self:
        """Rows of several tables, in order."""
        if not parts:
            return cls()
        names = parts[0]._cols
        return cls(
            np.concatenate([p.geometry for p in parts]),
            **{k: np.concatenate([p._cols[k] for p in parts]) for k in names},
        )

    def _derived(self) -> dict[str, np.ndarray]:
        return {}

    def to_frame(self, *, derived: bool = True) -> gpd.GeoDataFrame:
        """A GeoDataFrame (EPSG:4326) with one column per field, in schema order."""
        import geopandas as gpd
        import pandas as pd

        data: dict[str, Any] = {}
        extra = self._derived() if derived else {}
        for f in self.FIELDS:
            if f.derived and not derived:
                continue
            arr = extra[f.name] if f.derived else self._cols[f.name]
            data[f.name] = pd.Series(arr, dtype="string" if f.kind == "str" else arr.dtype)
        geom = [None if g is None or g.is_empty else g for g in self.geometry]
        return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geom, crs=GEOMETRY_CRS))

    @classmethod
    def from_frame(cls, frame: Any, *, source: str = "table") -> Self:
        """Build from a (Geo)DataFrame with the schema's columns; derived ones are ignored.

        Missing stored columns are an error naming the column and ``source``; NULLs become
        the field's unset value (NaN, '' or the record default).
        """
        missing = [f.name for f in cls.FIELDS if not f.derived and f.name not in frame.columns]
        if missing:
            raise DefectError(f"missing fields {missing}", path=source, where=cls.__name__)
        defaults = {f.name: f.default for f in dataclasses.fields(cls.RECORD)}
        cols: dict[str, np.ndarray] = {}
        for f in cls.FIELDS:
            if f.derived:
                continue
            s = frame[f.name]
            if f.kind == "str":
                cols[f.name] = np.array(["" if _isna(v) else str(v) for v in s], dtype=object)
            elif f.kind == "float":
                cols[f.name] = np.asarray(s.astype("float64"), dtype=np.float64)
            else:
                d = defaults[f.name]
                fill = 0 if d is dataclasses.MISSING else d
                try:
                    cols[f.name] = np.asarray(s.fillna(fill).astype("int64"), dtype=np.int64)
                except (TypeError, ValueError) as exc:
                    raise DefectError(
                        f"field {f.name!r} is not integer: {exc}", path=source, where=cls.__name__
                    ) from exc
        geom = frame.geometry.to_numpy() if "geometry" in frame.columns else None
        out = cls(geom, **cols)
        out.validate(source=source)
        return out

    def validate(self, *, source: str = "table") -> None:
        """Check every row (vectorized); the error names the first bad row and field."""


def _isnan(a: np.ndarray) -> np.ndarray:
    return np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool)


def _isna(v: Any) -> bool:
    import pandas as pd

    return v is None or bool(pd.isna(v))


def _first_bad(ok: np.ndarray, ids: np.ndarray, msg: str, source: str, kind: str) -> None:
    bad = np.flatnonzero(~ok)
    if len(bad):
        i = int(bad[0])
        raise DefectError(
            msg + (f" (and {len(bad) - 1} more rows)" if len(bad) > 1 else ""),
            path=source,
            where=f"{kind} {ids[i]!r}",
        )


class DefectSet(_Table):
    """Many defects as parallel arrays (``ds.severity``, ``ds.chainage_m``, ``ds.geometry``)."""

    FIELDS = DEFECT_FIELDS
    RECORD = Defect
    KEY = "defect_id"

    @property
    def final_severity(self) -> np.ndarray:
        """reviewed_severity where set, else severity."""
        return np.where(self.reviewed_severity > 0, self.reviewed_severity, self.severity)

    def _derived(self) -> dict[str, np.ndarray]:
        iso = np.vectorize(iso_utc, otypes=[object])
        n = len(self)
        return {
            "first_seen_utc": iso(self.first_seen_t_s) if n else np.array([], object),
            "last_seen_utc": iso(self.last_seen_t_s) if n else np.array([], object),
            "decided_at": iso(self.decided_t_s) if n else np.array([], object),
            "final_severity": self.final_severity,
        }

    def validate(self, *, source: str = "table") -> None:
        ids = self.defect_id
        _first_bad(ids != "", ids, "empty defect_id", source, "defect")
        uniq, counts = np.unique(ids.astype(str), return_counts=True)
        if (counts > 1).any():
            raise DefectError(f"duplicate defect_id {uniq[counts > 1][:5].tolist()}", path=source)
        sev, rev = self.severity, self.reviewed_severity
        _first_bad((sev >= 1) & (sev <= 5), ids, "severity must be 1..5", source, "defect")
        _first_bad((rev >= 0) & (rev <= 5), ids, "reviewed_severity must be 0..5", source, "defect")
        conf = self.confidence
        _first_bad((conf >= 0) & (conf <= 1), ids, "confidence must be in 0..1", source, "defect")
        _first_bad(
            np.isin(self.decision, DECISIONS), ids, f"decision not in {DECISIONS}", source, "defect"
        )
        _first_bad(np.isin(self.side, SIDES), ids, f"side not in {SIDES}", source, "defect")

    def apply_reviews(self, reviews: Sequence[Review]) -> DefectSet:
        """A copy with each defect's latest review (by time) written into its review fields."""
        latest: dict[str, Review] = {}
        for rev in sorted(reviews, key=lambda r: r.decided_t_s):
            latest[rev.defect_id] = rev
        cols = {
            k: self._cols[k].copy()
            for k in ("decision", "reviewer", "decided_t_s", "review_comment", "reviewed_severity")
        }
        for i, did in enumerate(self.defect_id):
            r = latest.get(did)
            if r is None:
                continue
            cols["decision"][i], cols["reviewer"][i] = r.decision, r.reviewer
            cols["decided_t_s"][i], cols["review_comment"][i] = r.decided_t_s, r.comment
            cols["reviewed_severity"][i] = r.severity
        return self.with_columns(**cols)


class DetectionSet(_Table):
    """Many detections (sightings) as parallel arrays; ``defect_id`` links each to its defect."""

    FIELDS = DETECTION_FIELDS
    RECORD = Detection
    KEY = "detection_id"

    def _derived(self) -> dict[str, np.ndarray]:
        iso = np.vectorize(iso_utc, otypes=[object])
        return {"t_utc": iso(self.t_s) if len(self) else np.array([], object)}

    def validate(self, *, source: str = "table") -> None:
        ids = self.detection_id
        _first_bad(ids != "", ids, "empty detection_id", source, "detection")
        uniq, counts = np.unique(ids.astype(str), return_counts=True)
        if (counts > 1).any():
            raise DefectError(
                f"duplicate detection_id {uniq[counts > 1][:5].tolist()}", path=source
            )
        conf = self.confidence
        _first_bad(
            (conf >= 0) & (conf <= 1), ids, "confidence must be in 0..1", source, "detection"
        )
        _first_bad(
            np.isin(self.sensor, ("rgb", "thermal")),
            ids,
            "sensor must be rgb or thermal",
            source,
            "detection",
        )

    def of_defect(self, defect_id: str) -> DetectionSet:
        """The sightings fused into one defect, in time order."""
        sel = self[self.defect_id == defect_id]
        return sel[np.argsort(sel.t_s, kind="stable")]
