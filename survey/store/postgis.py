"""PostGIS store: many runs in one PostgreSQL database, same interface as the GeoPackage.

Tables in one schema (default ``survey``; created with the ``postgis`` extension when missing):

- ``defects`` / ``detections``: the schema's columns (derived ones included, for GIS users who
  query the tables directly), ``row_no`` (order written), ``geom geometry(Geometry, 4326)`` with
  a GiST index; primary key ``(run_id, defect_id)`` / ``(run_id, detection_id)``.
- ``review_log``: every decision with who and when (``decided_at timestamptz``).
- ``runs``: one JSON run record per run. ``layers``: auxiliary layers as
  ``(run_id, layer, row_no, properties jsonb, geom)``.

Passwords are never taken from config files: libpq reads ``PGPASSWORD`` or ``~/.pgpass``.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from survey.defects import (
    DEFECT_FIELDS,
    DETECTION_FIELDS,
    Defect,
    DefectSet,
    DetectionSet,
    FieldSpec,
    Review,
    iso_utc,
)
from survey.store.base import (
    DefectNotFoundError,
    DefectStore,
    RunInfo,
    StoreError,
    check_layer_name,
    redact_url,
)

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import psycopg

__all__ = ["PostGISStore"]

_SQL_TYPE = {"str": "text", "float": "double precision", "int": "bigint", "bool": "boolean"}


def _ddl(schema: str) -> list[str]:
    def cols(fields: Sequence[FieldSpec]) -> str:
        return ", ".join(f"{f.name} {_SQL_TYPE[f.kind]}" for f in fields if f.name != "run_id")

    return [
        f"CREATE SCHEMA IF NOT EXISTS {schema}",
        f"CREATE TABLE IF NOT EXISTS {schema}.runs (run_id text PRIMARY KEY, info jsonb NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {schema}.defects (run_id text NOT NULL, row_no integer NOT NULL, "
        f"{cols(DEFECT_FIELDS)}, geom geometry(Geometry, 4326), PRIMARY KEY (run_id, defect_id))",
        f"CREATE INDEX IF NOT EXISTS defects_geom_gist ON {schema}.defects USING gist (geom)",
        f"CREATE TABLE IF NOT EXISTS {schema}.detections (run_id text NOT NULL, row_no integer NOT NULL, "
        f"{cols(DETECTION_FIELDS)}, geom geometry(Geometry, 4326), PRIMARY KEY (run_id, detection_id))",
        f"CREATE INDEX IF NOT EXISTS detections_geom_gist ON {schema}.detections USING gist (geom)",
        f"CREATE INDEX IF NOT EXISTS detections_defect ON {schema}.detections (run_id, defect_id)",
        f"CREATE TABLE IF NOT EXISTS {schema}.review_log (id bigserial PRIMARY KEY, run_id text NOT NULL, "
        "defect_id text NOT NULL, decision text NOT NULL, reviewer text NOT NULL, "
        "decided_t_s double precision NOT NULL, decided_at timestamptz NOT NULL, comment text NOT NULL, "
        "severity integer NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS review_log_defect ON {schema}.review_log (run_id, defect_id)",
        f"CREATE TABLE IF NOT EXISTS {schema}.layers (run_id text NOT NULL, layer text NOT NULL, "
        "row_no integer NOT NULL, properties jsonb NOT NULL, geom geometry(Geometry, 4326), "
        "PRIMARY KEY (run_id, layer, row_no))",
    ]


def _py(v: Any) -> Any:
    """A numpy scalar as a Python value; NaN as NULL."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


class PostGISStore(DefectStore):
    """A run's defects in PostGIS (see the module docstring for the tables)."""

    def __init__(self, url: str, *, run_id: str, schema: str = "survey") -> None:
        if not schema.replace("_", "a").isalnum() or not schema[0].isalpha():
            raise StoreError(f"invalid PostGIS schema name {schema!r}", where="store.schema")
        self.url, self.run_id, self.schema = redact_url(url), run_id, schema
        self._dsn = url.replace("postgres://", "postgresql://", 1)
        self._lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None
        if self._tables_exist():
            return
        with self._tx() as cur:
            # concurrent first opens would deadlock on the DDL: one at a time per schema, and
            # never while others work (CREATE INDEX locks the table even when the index exists)
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"survey-store:{schema}",))
            cur.execute("SELECT to_regclass(%s)", (f"{schema}.layers",))
            row = cur.fetchone()
            if row is not None and row[0] is not None:
                return
            cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
            if cur.fetchone() is None:
                import psycopg

                try:
                    cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                except psycopg.Error as exc:
                    raise StoreError(
                        f"the database lacks the postgis extension and it could not be created: {exc}",
                        path=self.url,
                    ) from exc
            for stmt in _ddl(schema):
                cur.execute(stmt)

    # -- plumbing -------------------------------------------------------------------------------
    def _tables_exist(self) -> bool:
        names = [
            f"{self.schema}.{t}" for t in ("runs", "defects", "detections", "review_log", "layers")
        ]
        with self._tx() as cur:
            cur.execute(
                "SELECT bool_and(to_regclass(n) IS NOT NULL) FROM unnest(%s::text[]) AS n", (names,)
            )
            row = cur.fetchone()
        return bool(row and row[0])

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(
                    self._dsn, connect_timeout=10, application_name="survey"
                )
            except psycopg.OperationalError as exc:
                raise StoreError(f"cannot connect: {str(exc).strip()}", path=self.url) from exc
        return self._conn

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Cursor[Any]]:
        import psycopg

        with self._lock:
            conn = self._connect()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    yield cur
            except psycopg.Error as exc:
                raise StoreError(f"database error: {str(exc).strip()}", path=self.url) from exc

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _copy_rows(
        self, cur: psycopg.Cursor[Any], table: str, frame: Any, fields: Sequence[FieldSpec]
    ) -> None:
        names = [f.name for f in fields if f.name != "run_id"]
        cols = ", ".join(["run_id", "row_no", *names, "geom"])
        data = [frame[n].to_numpy() for n in names]
        geoms = frame.geometry.to_numpy()
        with cur.copy(f"COPY {self.schema}.{table} ({cols}) FROM STDIN") as cp:
            for i in range(len(frame)):
                g = geoms[i]
                wkb = (
                    None
                    if g is None or g.is_empty
                    else shapely.to_wkb(shapely.set_srid(g, 4326), hex=True, include_srid=True)
                )
                cp.write_row((self.run_id, i, *(_py(col[i]) for col in data), wkb))

    def _select(
        self, table: str, fields: Sequence[FieldSpec], where: str = "", args: tuple[Any, ...] = ()
    ) -> Any:
        import geopandas as gpd
        import pandas as pd

        names = [f.name for f in fields]
        sel = ", ".join(n if n != "run_id" else "run_id" for n in names)
        with self._tx() as cur:
            cur.execute(
                f"SELECT {sel}, ST_AsBinary(geom) FROM {self.schema}.{table} WHERE run_id = %s {where} ORDER BY row_no",
                (self.run_id, *args),
            )
            rows = cur.fetchall()
        df = pd.DataFrame([r[:-1] for r in rows], columns=names)
        for f in fields:
            if f.kind == "float":
                df[f.name] = pd.to_numeric(df[f.name], errors="coerce").astype("float64")
        geom = [None if r[-1] is None else shapely.from_wkb(bytes(r[-1])) for r in rows]
        return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geom, crs="EPSG:4326"))

    # -- run ------------------------------------------------------------------------------------
    def write_run(self, info: RunInfo) -> None:
        with self._tx() as cur:
            cur.execute(
                f"INSERT INTO {self.schema}.runs VALUES (%s, %s) ON CONFLICT (run_id) DO UPDATE SET info = EXCLUDED.info",
                (info.run_id, info.to_json()),
            )
        self.run_id = info.run_id

    def read_run(self) -> RunInfo | None:
        with self._tx() as cur:
            cur.execute(
                f"SELECT info::text FROM {self.schema}.runs WHERE run_id = %s", (self.run_id,)
            )
            row = cur.fetchone()
        return None if row is None else RunInfo.from_json(row[0], source=self.url)

    # -- defects and detections -----------------------------------------------------------------
    def write_defects(self, defects: DefectSet) -> None:
        defects = self._with_inspector_defects(defects)
        defects.validate(source="defects to store")
        defects = defects.with_columns(run_id=np.full(len(defects), self.run_id, dtype=object))
        defects = defects.apply_reviews(self.reviews())
        frame = defects.to_frame()
        with self._tx() as cur:
            cur.execute(f"DELETE FROM {self.schema}.defects WHERE run_id = %s", (self.run_id,))
            self._copy_rows(cur, "defects", frame, DEFECT_FIELDS)

    def read_defects(self) -> DefectSet:
        frame = self._select("defects", DEFECT_FIELDS)
        return DefectSet.from_frame(
            frame, source=f"{self.url}:{self.schema}.defects"
        ).apply_reviews(self.reviews())

    def write_detections(self, detections: DetectionSet) -> None:
        detections.validate(source="detections to store")
        detections = detections.with_columns(
            run_id=np.full(len(detections), self.run_id, dtype=object)
        )
        with self._tx() as cur:
            cur.execute(f"DELETE FROM {self.schema}.detections WHERE run_id = %s", (self.run_id,))
            self._copy_rows(cur, "detections", detections.to_frame(), DETECTION_FIELDS)

    def read_detections(self) -> DetectionSet:
        frame = self._select("detections", DETECTION_FIELDS)
        return DetectionSet.from_frame(frame, source=f"{self.url}:{self.schema}.detections")

    # -- layers -----------------------------------------------------------------------------------
    def write_layer(self, name: str, frame: gpd.GeoDataFrame) -> None:
        name = check_layer_name(name)
        out = frame.to_crs(4326) if frame.crs is not None else frame
        props = json.loads(out.drop(columns=out.geometry.name).to_json(orient="records"))
        geoms = out.geometry.to_numpy()
        with self._tx() as cur:
            cur.execute(
                f"DELETE FROM {self.schema}.layers WHERE run_id = %s AND layer = %s",
                (self.run_id, name),
            )
            with cur.copy(
                f"COPY {self.schema}.layers (run_id, layer, row_no, properties, geom) FROM STDIN"
            ) as cp:
                for i, (p, g) in enumerate(zip(props, geoms, strict=True)):
                    wkb = (
                        None
                        if g is None or g.is_empty
                        else shapely.to_wkb(shapely.set_srid(g, 4326), hex=True, include_srid=True)
                    )
                    cp.write_row((self.run_id, name, i, json.dumps(p), wkb))

    def read_layer(self, name: str) -> gpd.GeoDataFrame | None:
        import geopandas as gpd
        import pandas as pd

        name = check_layer_name(name)
        with self._tx() as cur:
            cur.execute(
                f"SELECT properties::text, ST_AsBinary(geom) FROM {self.schema}.layers "
                "WHERE run_id = %s AND layer = %s ORDER BY row_no",
                (self.run_id, name),
            )
            rows = cur.fetchall()
        if not rows:
            return None
        df = pd.DataFrame.from_records([json.loads(r[0]) for r in rows])
        geom = [None if r[1] is None else shapely.from_wkb(bytes(r[1])) for r in rows]
        return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geom, crs="EPSG:4326"))

    def layers(self) -> list[str]:
        with self._tx() as cur:
            cur.execute(
                f"SELECT DISTINCT layer FROM {self.schema}.layers WHERE run_id = %s ORDER BY layer",
                (self.run_id,),
            )
            return [r[0] for r in cur.fetchall()]

    # -- review -------------------------------------------------------------------------------------
    def record_review(self, review: Review) -> Defect:
        with self._tx() as cur:
            cur.execute(
                f"SELECT severity FROM {self.schema}.defects WHERE run_id = %s AND defect_id = %s FOR UPDATE",
                (self.run_id, review.defect_id),
            )
            row = cur.fetchone()
            if row is None:
                raise DefectNotFoundError(
                    f"no defect {review.defect_id!r} in run {self.run_id!r}", path=self.url
                )
            cur.execute(
                f"INSERT INTO {self.schema}.review_log (run_id, defect_id, decision, reviewer, decided_t_s, "
                "decided_at, comment, severity) VALUES (%s, %s, %s, %s, %s, to_timestamp(%s), %s, %s)",
                (
                    self.run_id,
                    review.defect_id,
                    review.decision,
                    review.reviewer,
                    review.decided_t_s,
                    review.decided_t_s,
                    review.comment,
                    review.severity,
                ),
            )
            cur.execute(
                f"UPDATE {self.schema}.defects SET decision = %s, reviewer = %s, decided_t_s = %s, decided_at = %s, "
                "review_comment = %s, reviewed_severity = %s, final_severity = %s WHERE run_id = %s AND defect_id = %s",
                (
                    review.decision,
                    review.reviewer,
                    review.decided_t_s,
                    iso_utc(review.decided_t_s),
                    review.comment,
                    review.severity,
                    review.severity or int(row[0]),
                    self.run_id,
                    review.defect_id,
                ),
            )
        frame = self._select("defects", DEFECT_FIELDS, "AND defect_id = %s", (review.defect_id,))
        one = DefectSet.from_frame(frame, source=self.url).apply_reviews(
            self.reviews(review.defect_id)
        )
        return one[0]

    def reviews(self, defect_id: str | None = None) -> list[Review]:
        sql = (
            f"SELECT defect_id, decision, reviewer, decided_t_s, comment, severity FROM {self.schema}.review_log "
            "WHERE run_id = %s"
        )
        args: tuple[str, ...] = (self.run_id,)
        if defect_id is not None:
            sql, args = sql + " AND defect_id = %s", (*args, defect_id)
        with self._tx() as cur:
            cur.execute(sql + " ORDER BY decided_t_s, id", args)
            rows = cur.fetchall()
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
