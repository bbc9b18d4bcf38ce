"""The default store: one GeoPackage per run (``RUN_DIR/defects.gpkg``).

Layers written with GDAL (pyogrio): ``defects`` and ``detections`` (polygons, EPSG:4326, the
columns of :data:`survey.defects.DEFECT_FIELDS` / ``DETECTION_FIELDS``) and any auxiliary layer
(``route``, ``coverage``, ``footprints``, ``flight_path``). Two attribute tables, registered in
``gpkg_contents`` so QGIS and GDAL list them: ``review_log`` (every decision, who and when) and
``survey_runs`` (the run record). Review decisions are single SQLite transactions that append to
the log and update the defect's review columns, so a GIS user opening the file sees them too.
"""

from __future__ import annotations

import sqlite3
import struct
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shapely

from survey.defects import Defect, DefectSet, DetectionSet, Review, iso_utc
from survey.store.base import (
    DefectNotFoundError,
    DefectStore,
    RunInfo,
    StoreError,
    check_layer_name,
)

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

__all__ = ["GeoPackageStore"]

CORE = ("defects", "detections", "review_log", "survey_runs", "layer_styles")
# One lock per file for this process: GDAL does not wait on a busy SQLite file by itself.
_LOCKS: dict[Path, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(path: Path) -> threading.RLock:
    key = path.resolve()
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())


def _gdal_waits_when_busy() -> None:
    """Let GDAL wait (up to 30 s) on a GeoPackage another process is writing."""
    import pyogrio

    if pyogrio.get_gdal_config_option("OGR_SQLITE_PRAGMA") is None:
        pyogrio.set_gdal_config_options({"OGR_SQLITE_PRAGMA": "busy_timeout=30000"})


_ENVELOPE_DOUBLES = {0: 0, 1: 4, 2: 6, 3: 6, 4: 8}


def _blob_bounds(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) of a GeoPackage geometry blob; None when null or empty."""
    if blob is None or len(blob) < 8 or blob[:2] != b"GP":
        return None
    flags = blob[3]
    if (flags >> 4) & 1:
        return None
    env = (flags >> 1) & 7
    order = "<" if flags & 1 else ">"
    if env >= 1:
        minx, maxx, miny, maxy = struct.unpack_from(order + "4d", blob, 8)
        return minx, maxx, miny, maxy
    g = shapely.from_wkb(bytes(blob[8 + 8 * _ENVELOPE_DOUBLES.get(env, 0) :]))
    if g is None or g.is_empty:
        return None
    x0, y0, x1, y1 = g.bounds
    return x0, x1, y0, y1


def _register_gpkg_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions GDAL's R-tree triggers call (GDAL registers them; plain SQLite lacks them)."""
    conn.create_function(
        "ST_IsEmpty",
        1,
        lambda b: None if b is None else int(_blob_bounds(b) is None),
        deterministic=True,
    )
    for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        conn.create_function(
            name, 1, lambda b, i=i: (bb := _blob_bounds(b)) and bb[i], deterministic=True
        )


def _check_gpkg(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            head = fh.read(72)
    except OSError as exc:
        raise StoreError(f"cannot read: {exc.strerror}", path=path) from exc
    if len(head) < 72 or head[:16] != b"SQLite format 3\x00":
        raise StoreError("not a GeoPackage (expected an SQLite file)", path=path, where="header")
    if head[68:72] not in (b"GPKG", b"GP10", b"GP11"):
        raise StoreError(
            "an SQLite file but not a GeoPackage (application_id)", path=path, where="header"
        )


class GeoPackageStore(DefectStore):
    """A run's defects in one GeoPackage file (see the module docstring for its layout)."""

    def __init__(self, path: str | Path, *, run_id: str | None = None, create: bool = True) -> None:
        self.path = Path(path)
        self.url = str(self.path)
        self._lock = _lock_for(self.path)
        _gdal_waits_when_busy()
        with self._lock:
            self._open(create)
        if run_id is None:
            with self._db() as db:
                rows = db.execute("SELECT run_id FROM survey_runs").fetchall()
            run_id = rows[0][0] if len(rows) == 1 else self.path.stem
        self.run_id = run_id

    def _open(self, create: bool) -> None:
        if self.path.exists():
            _check_gpkg(self.path)
        elif not create:
            raise StoreError("no such GeoPackage", path=self.path)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._write_frame("defects", DefectSet().to_frame())
            self._write_frame("detections", DetectionSet().to_frame())
        self._ensure_tables()

    # -- plumbing -----------------------------------------------------------------------------
    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield from self._db_unlocked()

    def _db_unlocked(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open: {exc}", path=self.path) from exc
        with closing(conn):
            _register_gpkg_functions(conn)
            try:
                yield conn
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"database error: {exc}", path=self.path) from exc

    def _ensure_tables(self) -> None:
        with self._db() as db:
            have = {r[0] for r in db.execute("SELECT table_name FROM gpkg_contents")}
            if {"review_log", "survey_runs"} <= have:
                return
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "CREATE TABLE IF NOT EXISTS review_log (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "run_id TEXT NOT NULL, defect_id TEXT NOT NULL, decision TEXT NOT NULL, "
                "reviewer TEXT NOT NULL, decided_t_s REAL NOT NULL, decided_at TEXT NOT NULL, "
                "comment TEXT NOT NULL, severity INTEGER NOT NULL)"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS survey_runs (run_id TEXT PRIMARY KEY, info TEXT NOT NULL)"
            )
            for table, what in (("review_log", "Inspectors' decisions"), ("survey_runs", "Runs")):
                db.execute(
                    "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) "
                    "VALUES (?, 'attributes', ?, ?)",
                    (table, table, what),
                )
            db.execute("COMMIT")

    def _write_frame(self, layer: str, frame: gpd.GeoDataFrame) -> None:
        import pyogrio

        try:
            with self._lock:
                pyogrio.write_dataframe(
                    frame, self.path, layer=layer, driver="GPKG", promote_to_multi=False
                )
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
            raise StoreError(f"cannot write layer {layer!r}: {exc}", path=self.path) from exc

    def _read_frame(self, layer: str, where: str | None = None) -> gpd.GeoDataFrame:
        import pyogrio

        try:
            with self._lock:
                return pyogrio.read_dataframe(self.path, layer=layer, where=where)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise StoreError(f"cannot read layer {layer!r}: {exc}", path=self.path) from exc

    # -- run ----------------------------------------------------------------------------------
    def write_run(self, info: RunInfo) -> None:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM survey_runs WHERE run_id != ?", (info.run_id,))
            db.execute(
                "INSERT OR REPLACE INTO survey_runs VALUES (?, ?)", (info.run_id, info.to_json())
            )
            db.execute("COMMIT")
        self.run_id = info.run_id

    def read_run(self) -> RunInfo | None:
        with self._db() as db:
            row = db.execute(
                "SELECT info FROM survey_runs WHERE run_id = ?", (self.run_id,)
            ).fetchone()
        return None if row is None else RunInfo.from_json(row[0], source=self.url)

    # -- defects and detections -------------------------------------------------------------------
    def write_defects(self, defects: DefectSet) -> None:
        defects = self._with_inspector_defects(defects)
        defects.validate(source="defects to store")
        defects = defects.with_columns(run_id=np.full(len(defects), self.run_id, dtype=object))
        defects = defects.apply_reviews(self.reviews())
        self._write_frame("defects", defects.to_frame())
        with self._db() as db:  # decisions find their row by id without a scan
            db.execute("CREATE INDEX IF NOT EXISTS defects_defect_id ON defects (defect_id)")
        self._style(["defects"])

    def _style(self, layers: list[str]) -> None:
        """QGIS default styles of these layers (:mod:`survey.store.qgis`)."""
        from survey.store.qgis import write_layer_styles

        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            write_layer_styles(db, layers)
            db.execute("COMMIT")

    def read_defects(self) -> DefectSet:
        ds = DefectSet.from_frame(self._read_frame("defects"), source=f"{self.url}:defects")
        return ds.apply_reviews(self.reviews())  # the log is the truth, whatever a GIS edited

    def write_detections(self, detections: DetectionSet) -> None:
        detections.validate(source="detections to store")
        detections = detections.with_columns(
            run_id=np.full(len(detections), self.run_id, dtype=object)
        )
        self._write_frame("detections", detections.to_frame())
        self._style(["detections"])

    def read_detections(self) -> DetectionSet:
        return DetectionSet.from_frame(
            self._read_frame("detections"), source=f"{self.url}:detections"
        )

    # -- layers -----------------------------------------------------------------------------------
    def write_layer(self, name: str, frame: gpd.GeoDataFrame) -> None:
        name = check_layer_name(name)
        if name in CORE:
            raise StoreError(f"{name!r} is a core table; write it with its own method")
        out = frame if frame.crs is None else frame.to_crs(4326)
        if out.crs is None:
            out = out.set_crs(4326)
        self._write_frame(name, out)
        self._style([name])

    def read_layer(self, name: str) -> gpd.GeoDataFrame | None:
        name = check_layer_name(name)
        return self._read_frame(name) if name in self.layers() else None

    def layers(self) -> list[str]:
        import pyogrio

        with self._lock:
            names = [str(n) for n in pyogrio.list_layers(self.path)[:, 0]]
        return [n for n in names if n not in CORE]

    # -- review -------------------------------------------------------------------------------------
    def record_review(self, review: Review) -> Defect:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT severity FROM defects WHERE defect_id = ?", (review.defect_id,)
            ).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                raise DefectNotFoundError(
                    f"no defect {review.defect_id!r} in run {self.run_id!r}", path=self.path
                )
            db.execute(
                "INSERT INTO review_log (run_id, defect_id, decision, reviewer, decided_t_s, decided_at, comment, severity) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.run_id,
                    review.defect_id,
                    review.decision,
                    review.reviewer,
                    review.decided_t_s,
                    review.decided_at,
                    review.comment,
                    review.severity,
                ),
            )
            db.execute(
                "UPDATE defects SET decision = ?, reviewer = ?, decided_t_s = ?, decided_at = ?, "
                "review_comment = ?, reviewed_severity = ?, final_severity = ? WHERE defect_id = ?",
                (
                    review.decision,
                    review.reviewer,
                    review.decided_t_s,
                    iso_utc(review.decided_t_s),
                    review.comment,
                    review.severity,
                    review.severity or int(row[0]),
                    review.defect_id,
                ),
            )
            db.execute("COMMIT")
        quoted = review.defect_id.replace("'", "''")
        one = DefectSet.from_frame(
            self._read_frame("defects", where=f"defect_id = '{quoted}'"), source=self.url
        )
        return one.apply_reviews(self.reviews(review.defect_id))[0]

    def reviews(self, defect_id: str | None = None) -> list[Review]:
        sql = "SELECT defect_id, decision, reviewer, decided_t_s, comment, severity FROM review_log WHERE run_id = ?"
        args: tuple[str, ...] = (self.run_id,)
        if defect_id is not None:
            sql, args = sql + " AND defect_id = ?", (*args, defect_id)
        with self._db() as db:
            rows = db.execute(sql + " ORDER BY decided_t_s, id", args).fetchall()
        return [
            Review(
                defect_id=r[0],
                decision=r[1],
                reviewer=r[2],
                decided_t_s=r[3],
                comment=r[4],
                severity=int(r[5]),
            )
            for r in rows
        ]
