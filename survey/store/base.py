"""The defect store interface, the run record, and :func:`open_store`.

A store keeps one or more runs' defects, detections, auxiliary layers (asset route, coverage,
frame footprints, flight path) and the inspectors' review log. Two implementations share this
interface: :class:`~survey.store.gpkg.GeoPackageStore` (one file per run, the default) and
:class:`~survey.store.postgis.PostGISStore` (many runs in one database). Review decisions are
written at once (one transaction per decision) into both the log and the defect's review fields,
and :meth:`DefectStore.write_defects` re-applies the logged decisions to defects that keep their
id when a run is re-processed, so no decision is lost.
"""

from __future__ import annotations

import json
import math
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from survey.defects import DECISIONS, Defect, DefectSet, DetectionSet, Review
from survey.errors import SurveyError

if TYPE_CHECKING:  # pragma: no cover
    from typing import Self  # 3.11+, annotations only (the Jetson runs 3.10)

    import geopandas as gpd

__all__ = [
    "DefectNotFoundError",
    "DefectStore",
    "INSPECTOR_LAYER",
    "RunInfo",
    "StoreError",
    "default_store_path",
    "open_run_store",
    "open_store",
    "redact_url",
    "write_store_pointer",
]

#: Names of auxiliary layers a run may hold (any name of letters, digits and _ is allowed).
KNOWN_LAYERS = ("route", "coverage", "footprints", "flight_path")
#: The layer that keeps the defects inspectors added (they survive re-processing).
INSPECTOR_LAYER = "inspector_defects"
STORE_FILE = "defects.gpkg"


class StoreError(SurveyError, OSError):
    """The store cannot be opened, read or written."""


class DefectNotFoundError(SurveyError, KeyError):
    """No defect of that id in this run."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the plain message
        return Exception.__str__(self)


@dataclass(frozen=True)
class RunInfo:
    """What a run is: its id, the asset surveyed, when, from which flight, with which config."""

    run_id: str
    asset_id: str = ""
    asset_kind: str = "rail"
    asset_length_m: float = math.nan
    chainage_origin_m: float = 0.0
    flight: str = ""
    created_t_s: float = field(default_factory=time.time)
    config_toml: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """The record as JSON (NaN written as null)."""
        d = asdict(self)
        d["asset_length_m"] = None if math.isnan(self.asset_length_m) else self.asset_length_m
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, *, source: str = "run info") -> RunInfo:
        """Parse :meth:`to_json` output; an unknown or missing key is a :class:`StoreError`."""
        try:
            d = json.loads(text)
            if d.get("asset_length_m") is None:
                d["asset_length_m"] = math.nan
            return cls(**d)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"invalid run record: {exc}", path=source) from exc


def check_review(review: Review) -> None:
    """Reject a review that is not a decision (``unreviewed`` is allowed: it clears one)."""
    if review.decision not in DECISIONS:  # pragma: no cover - Review validates already
        raise StoreError(f"unknown decision {review.decision!r}")


def check_layer_name(name: str) -> str:
    """Layer names are identifiers (they become table names)."""
    if not name or not name.replace("_", "a").isalnum() or not name[0].isalpha() or len(name) > 40:
        raise StoreError(f"invalid layer name {name!r}: use letters, digits and _")
    return name.lower()


class DefectStore(ABC):
    """Where a run's defects live. Use as a context manager, or call :meth:`close`."""

    #: The store's address (a file path or a postgresql:// URL without password).
    url: str
    #: The run this store object reads and writes.
    run_id: str

    # -- run --------------------------------------------------------------------------------
    @abstractmethod
    def write_run(self, info: RunInfo) -> None:
        """Create or replace the run's record."""

    @abstractmethod
    def read_run(self) -> RunInfo | None:
        """The run's record, or None when it was never written."""

    # -- defects and detections ---------------------------------------------------------------
    @abstractmethod
    def write_defects(self, defects: DefectSet) -> None:
        """Replace the run's defects (their ``run_id`` becomes the store's).

        The review log is the record of decisions: the latest logged decision of each defect id
        is written into the new rows (and applied again on every read), so re-processing a run
        keeps the inspectors' work. Decisions attach by ``defect_id``: re-processing must give a
        physical defect the same id, or use a new run id.
        """

    @abstractmethod
    def read_defects(self) -> DefectSet:
        """The run's defects, with their current review fields, in the order written."""

    @abstractmethod
    def write_detections(self, detections: DetectionSet) -> None:
        """Replace the run's detections (sightings)."""

    @abstractmethod
    def read_detections(self) -> DetectionSet:
        """The run's detections, in the order written."""

    # -- auxiliary layers ----------------------------------------------------------------------
    @abstractmethod
    def write_layer(self, name: str, frame: gpd.GeoDataFrame) -> None:
        """Replace an auxiliary layer (route, coverage, footprints, flight_path, ...)."""

    @abstractmethod
    def read_layer(self, name: str) -> gpd.GeoDataFrame | None:
        """An auxiliary layer in EPSG:4326, or None when the run has none of that name."""

    @abstractmethod
    def layers(self) -> list[str]:
        """Names of the auxiliary layers the run holds."""

    # -- review --------------------------------------------------------------------------------
    @abstractmethod
    def record_review(self, review: Review) -> Defect:
        """Log a decision and write it into the defect at once; returns the updated defect.

        Raises :class:`DefectNotFoundError` when the run has no such defect (nothing is logged).
        """

    @abstractmethod
    def reviews(self, defect_id: str | None = None) -> list[Review]:
        """The review log (all decisions, oldest first), of one defect or of the whole run."""

    # -- defects added by inspectors -------------------------------------------------------------
    def add_defect(self, defect: Defect) -> Defect:
        """Add a defect an inspector found that the models missed (``sensors="inspector"``).

        It is kept in the auxiliary layer :data:`INSPECTOR_LAYER` as well as among the defects,
        so re-processing the run (which replaces the defects) brings it back, with its review.
        Raises :class:`StoreError` when the id is taken or the record is not an inspector's.
        """
        if defect.sensors != "inspector":
            raise StoreError(
                f"an added defect must have sensors='inspector', got {defect.sensors!r}",
                path=self.url,
                where=defect.defect_id,
            )
        if defect.defect_id in set(self.read_defects().defect_id):
            raise StoreError("a defect with this id exists", path=self.url, where=defect.defect_id)
        new = DefectSet.from_records([defect.replace(run_id=self.run_id)])
        old = self.inspector_defects()
        both = DefectSet.concat([old, new]) if len(old) else new
        self.write_layer(INSPECTOR_LAYER, both.to_frame(derived=False))
        self.write_defects(self.read_defects())
        return self.defect(defect.defect_id)

    def inspector_defects(self) -> DefectSet:
        """The defects inspectors added to this run (empty when none)."""
        frame = self.read_layer(INSPECTOR_LAYER)
        if frame is None or not len(frame):
            return DefectSet()
        return DefectSet.from_frame(frame, source=f"{self.url}:{INSPECTOR_LAYER}")

    def _with_inspector_defects(self, defects: DefectSet) -> DefectSet:
        """``defects`` plus the inspectors' additions that are not among them."""
        added = self.inspector_defects()
        if not len(added):
            return defects
        have = set(defects.defect_id) if len(defects) else set()
        keep = np.array([d not in have for d in added.defect_id], bool)
        if not keep.any():
            return defects
        return DefectSet.concat([defects, added[keep]]) if len(defects) else added[keep]

    # -- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (idempotent)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def defect(self, defect_id: str) -> Defect:
        """One defect by id (:class:`DefectNotFoundError` when absent)."""
        ds = self.read_defects()
        try:
            return ds[ds.index_of(defect_id)]
        except KeyError:
            raise DefectNotFoundError(f"no defect {defect_id!r} in run {self.run_id!r}") from None


def default_store_path(run_dir: str | Path) -> Path:
    """The run's GeoPackage: ``RUN_DIR/defects.gpkg``."""
    return Path(run_dir) / STORE_FILE


def open_store(
    target: str | Path | None = None,
    *,
    run_dir: str | Path | None = None,
    run_id: str | None = None,
    schema: str = "survey",
    create: bool = True,
) -> DefectStore:
    """Open a store: a GeoPackage path, a ``postgresql://`` URL, or the run's default.

    Parameters
    ----------
    target : str or Path, optional
        ``postgresql://user@host:port/dbname`` for PostGIS (password from ``PGPASSWORD`` or
        ``~/.pgpass``), a ``.gpkg`` path, or None/'' for ``RUN_DIR/defects.gpkg``.
    run_dir : path, optional
        The run folder; needed when ``target`` is empty. Its name is the default run id.
    run_id : str, optional
        Which run to read and write (PostGIS holds many). Defaults to the GeoPackage's only
        run, else the run folder's name.
    schema : str
        PostGIS schema of the tables (created when missing).
    create : bool
        Create a missing GeoPackage (False: a missing file is a :class:`StoreError`).
    """
    text = "" if target is None else str(target)
    if text.startswith(("postgresql://", "postgres://")):
        from survey.store.postgis import PostGISStore

        rid = run_id or (Path(run_dir).name if run_dir is not None else None)
        if not rid:
            raise StoreError("a PostGIS store needs a run id (or a run folder to name it)")
        return PostGISStore(text, run_id=rid, schema=schema)
    if not text:
        if run_dir is None:
            raise StoreError("no store given: pass a GeoPackage path, a postgresql:// URL or a run")
        path = default_store_path(run_dir)
    else:
        path = Path(text)
    from survey.store.gpkg import GeoPackageStore

    rid = run_id or (Path(run_dir).name if run_dir is not None else None)
    return GeoPackageStore(path, run_id=rid, create=create)


POINTER_FILE = "store.json"


def write_store_pointer(
    run_dir: str | Path, url: str, *, run_id: str, schema: str = "survey"
) -> Path:
    """Record in ``RUN_DIR/store.json`` where the run's defects are (for review and export).

    A password in ``url`` is never written: it is removed (use PGPASSWORD or ~/.pgpass). A file
    store inside the run folder is recorded relative to it, so a moved, copied or unzipped run
    still opens its own store (never the original's).
    """
    rd = Path(run_dir)
    p = rd / POINTER_FILE
    p.parent.mkdir(parents=True, exist_ok=True)
    target = redact_url(url)
    if "://" not in target:
        try:
            target = Path(target).absolute().relative_to(rd.absolute()).as_posix()
        except ValueError:
            pass  # a store outside the run stays absolute
    p.write_text(json.dumps({"url": target, "run_id": run_id, "schema": schema}, indent=1))
    return p


def redact_url(url: str) -> str:
    """A URL without its password.

    >>> redact_url("postgresql://ann:secret@db:5432/rail"), redact_url("/runs/a.gpkg")
    ('postgresql://ann@db:5432/rail', '/runs/a.gpkg')
    """
    from urllib.parse import urlsplit, urlunsplit

    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[1]}"))


def open_run_store(run_dir: str | Path, url: str | None = None, **kw: Any) -> DefectStore:
    """Open the store of a run folder: ``url`` if given, else ``store.json``, else the GeoPackage.

    A run folder with neither ``store.json`` nor ``defects.gpkg`` is a :class:`StoreError`.
    """
    rd = Path(run_dir)
    if not rd.is_dir():
        raise StoreError("no such run folder", path=rd)
    if (rd / "stages").is_dir() and not (rd / "stages" / "store" / "stage.json").is_file():
        # a pipeline run whose store stage never finished (killed, failed, or --until earlier):
        # its defect store is missing or partial, and exporting it would look like "no defects"
        raise StoreError(
            "the run's store stage has not finished (interrupted or failed?), so its defect "
            "store is incomplete; run `survey process` on this run again to finish it",
            path=rd,
        )
    if url:
        return open_store(url, run_dir=rd, **kw)
    pointer = rd / POINTER_FILE
    if pointer.is_file():
        try:
            d = json.loads(pointer.read_text(encoding="utf-8"))
            target, rid, schema = d["url"], d["run_id"], d.get("schema", "survey")
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(
                f"invalid store pointer ({exc}); expected url and run_id", path=pointer
            ) from exc
        if isinstance(target, str) and "://" not in target and not Path(target).is_absolute():
            target = str(rd / target)  # a store inside the run folder, wherever the run is now
        return open_store(target, run_dir=rd, run_id=rid, schema=schema)
    if not default_store_path(rd).is_file():
        raise StoreError(
            f"the run has no defect store ({STORE_FILE} or {POINTER_FILE}); run `survey process` first",
            path=rd,
        )
    return open_store(None, run_dir=rd, create=False, **kw)
