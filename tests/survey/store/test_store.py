"""The defect store, GeoPackage and PostGIS behind one interface (PostGIS on a real server)."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest

from survey.defects import DefectError, Review
from survey.store import (
    DefectNotFoundError,
    RunInfo,
    StoreError,
    open_run_store,
    open_store,
    write_store_pointer,
)


def _review(did: str, decision: str = "confirmed", t: float = 1.7e9, **kw: Any) -> Review:
    return Review(
        defect_id=did, decision=decision, reviewer=kw.pop("reviewer", "anna"), decided_t_s=t, **kw
    )


def test_defects_and_detections_round_trip(store_factory: Any, sample: Any) -> None:
    with store_factory() as st:
        st.write_defects(sample.defects)
        st.write_detections(sample.detections)
    with store_factory() as st:  # a new connection sees the same rows, in the same order
        back, dets = st.read_defects(), st.read_detections()
    assert back == sample.defects.with_columns(run_id=np.full(len(back), "r1", dtype=object))
    assert dets == sample.detections.with_columns(run_id=np.full(len(dets), "r1", dtype=object))
    # real values survive: chainage, ellipse, polygons, the two unlocatable sightings
    assert back.chainage_m.tolist() == sample.defects.chainage_m.tolist()
    assert back[5].geometry.equals_exact(sample.defects[5].geometry, 1e-12)
    assert [d.geometry is None for d in dets][-2:] == [True, True]
    assert np.isnan(dets.lon_deg[-1]) and dets[0].mask_rle == sample.detections[0].mask_rle


def test_review_is_saved_at_once_and_survives_reopening(store_factory: Any, sample: Any) -> None:
    with store_factory() as st:
        st.write_defects(sample.defects)
        d = st.record_review(_review("D0004", "needs_revisit", 1.7e9, comment="occluded"))
        assert (d.decision, d.reviewer, d.review_comment, d.final_severity) == (
            "needs_revisit",
            "anna",
            "occluded",
            sample.defects[3].severity,
        )
        d = st.record_review(_review("D0004", "confirmed", 1.7e9 + 60, severity=5, reviewer="ben"))
        assert (d.decision, d.reviewer, d.reviewed_severity, d.final_severity) == (
            "confirmed",
            "ben",
            5,
            5,
        )
    with store_factory() as st:
        ds = st.read_defects()
        i = ds.index_of("D0004")
        assert (ds.decision[i], ds.reviewer[i], ds.decided_t_s[i]) == (
            "confirmed",
            "ben",
            1.7e9 + 60,
        )
        assert (ds.decision != "unreviewed").sum() == 1
        hist = st.reviews("D0004")
        assert [(r.decision, r.reviewer) for r in hist] == [
            ("needs_revisit", "anna"),
            ("confirmed", "ben"),
        ]
        assert hist[1].decided_at == "2023-11-14T22:14:20.000Z"


def test_reprocessing_keeps_decisions(store_factory: Any, sample: Any) -> None:
    with store_factory() as st:
        st.write_defects(sample.defects)
        st.record_review(_review("D0002", "rejected", comment="shadow"))
        st.write_defects(sample.defects)  # re-run of the store stage: same ids, fresh rows
        ds = st.read_defects()
        assert ds[ds.index_of("D0002")].decision == "rejected"
        assert ds[ds.index_of("D0002")].review_comment == "shadow"


def test_review_of_unknown_defect_logs_nothing(store_factory: Any, sample: Any) -> None:
    with store_factory() as st:
        st.write_defects(sample.defects)
        with pytest.raises(DefectNotFoundError, match="no defect 'D9999'"):
            st.record_review(_review("D9999"))
        assert st.reviews() == []
        with pytest.raises(DefectNotFoundError):
            st.defect("nope")


def test_layers_and_run_record(store_factory: Any, sample: Any) -> None:
    with store_factory() as st:
        assert st.read_run() is None and st.read_layer("coverage") is None
        st.write_run(
            RunInfo("r1", asset_id="110 01", asset_length_m=sample.length_m, extra={"frames": 12})
        )
        st.write_layer("coverage", sample.coverage)
        st.write_layer("route", sample.route)
    with store_factory() as st:
        info = st.read_run()
        assert info is not None and info.asset_id == "110 01" and info.extra == {"frames": 12}
        assert info.asset_length_m == pytest.approx(4468.8985, abs=1e-3)
        assert sorted(st.layers()) == ["coverage", "route"]
        cov = st.read_layer("coverage")
        assert cov.crs.to_epsg() == 4326 and len(cov) == 3
        assert cov.chainage_end_m.tolist() == pytest.approx(sample.coverage.chainage_end_m.tolist())
        assert cov.geometry.iloc[1].equals_exact(sample.coverage.geometry.iloc[1], 1e-9)
        with pytest.raises(StoreError, match="invalid layer name"):
            st.write_layer("drop table;", sample.route)


def test_empty_run(store_factory: Any) -> None:
    with store_factory() as st:
        assert len(st.read_defects()) == 0 and len(st.read_detections()) == 0


def test_concurrent_reviews_are_all_logged(store_factory: Any, sample: Any) -> None:
    with store_factory() as st:
        st.write_defects(sample.defects)
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            with store_factory() as st:
                for j in range(4):
                    st.record_review(
                        _review(f"D{k + 1:04d}", "confirmed", 1.7e9 + j, reviewer=f"r{k}")
                    )
        except BaseException as exc:  # collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with store_factory() as st:
        assert len(st.reviews()) == 24
        assert (st.read_defects().decision == "confirmed").sum() == 6


def test_postgis_keeps_runs_apart(postgis_server: str, pg_schema: str, sample: Any) -> None:
    with (
        open_store(postgis_server, run_id="a", schema=pg_schema) as a,
        open_store(postgis_server, run_id="b", schema=pg_schema) as b,
    ):
        a.write_defects(sample.defects)
        b.write_defects(sample.defects[:5])
        a.record_review(_review("D0001"))
        assert len(a.read_defects()) == 36 and len(b.read_defects()) == 5
        assert b.read_defects()[0].decision == "unreviewed"
        assert set(a.read_defects().run_id) == {"a"}


def test_postgis_tables_are_plain_postgis(postgis_server: str, pg_schema: str, sample: Any) -> None:
    """GIS users query the tables directly: geometry, SRID and review columns are real."""
    import psycopg

    with open_store(postgis_server, run_id="r1", schema=pg_schema) as st:
        st.write_defects(sample.defects)
        st.record_review(_review("D0003", severity=5))
    with psycopg.connect(postgis_server) as conn:
        row = conn.execute(
            f"SELECT ST_SRID(geom), ST_Area(geom::geography), decision, final_severity, decided_at "
            f"FROM {pg_schema}.defects WHERE defect_id = 'D0003'"
        ).fetchone()
        n = conn.execute(f"SELECT count(*) FROM {pg_schema}.review_log").fetchone()
    assert (
        row[0] == 4326 and row[2:4] == ("confirmed", 5) and row[4].startswith("2023-11-14T22:13:20")
    )
    assert row[1] == pytest.approx(sample.defects.area_m2[2], rel=0.01)
    assert n == (1,)


def test_postgis_unreachable_is_a_store_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreError, match="cannot connect"):
        open_store(f"postgresql://nobody:secret@127.0.0.1:{port}/x", run_id="r")


def test_gpkg_is_a_real_geopackage_for_gis(tmp_path: Path, sample: Any) -> None:
    p = tmp_path / "defects.gpkg"
    with open_store(p, run_id="r1") as st:
        st.write_defects(sample.defects)
        st.record_review(_review("D0001", "rejected"))
    layers = dict(pyogrio.list_layers(p))
    assert layers["defects"] == "Polygon" and layers["review_log"] is None
    info = pyogrio.read_info(p, layer="defects")
    assert info["crs"] == "EPSG:4326" and info["features"] == 36
    gdal_view = pyogrio.read_dataframe(p, layer="defects", where="decision = 'rejected'")
    assert gdal_view.defect_id.tolist() == ["D0001"] and gdal_view.decided_at.iloc[0].endswith("Z")
    with sqlite3.connect(p) as db:  # the R-tree still indexes every polygon after the update
        assert db.execute("SELECT count(*) FROM rtree_defects_geom").fetchone() == (36,)


def test_bad_files_name_the_file(tmp_path: Path, sample: Any) -> None:
    text = tmp_path / "notes.gpkg"
    text.write_text("not a database")
    with pytest.raises(StoreError, match="notes.gpkg.*expected an SQLite file"):
        open_store(text)
    plain = tmp_path / "plain.gpkg"
    sqlite3.connect(plain).execute("CREATE TABLE x (a)").connection.close()
    with pytest.raises(StoreError, match="not a GeoPackage"):
        open_store(plain)
    with pytest.raises(StoreError, match="no such GeoPackage"):
        open_store(tmp_path / "missing.gpkg", create=False)
    # a defects layer that lost a column (edited by hand in a GIS)
    broken = tmp_path / "broken.gpkg"
    with open_store(broken, run_id="r1") as st:
        frame = sample.defects.to_frame().drop(columns=["severity"])
        pyogrio.write_dataframe(frame, broken, layer="defects", driver="GPKG")
        with pytest.raises(
            DefectError, match=r"broken.gpkg:defects.*missing fields \['severity'\]"
        ):
            st.read_defects()


def test_run_folder_pointer(
    tmp_path: Path, postgis_server: str, pg_schema: str, sample: Any
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(StoreError, match="has no defect store"):
        open_run_store(run)
    with open_store(None, run_dir=run) as st:  # default: RUN_DIR/defects.gpkg, run id = folder
        st.write_defects(sample.defects[:3])
        assert st.run_id == "run"
    with open_run_store(run) as st:
        assert len(st.read_defects()) == 3
    url = postgis_server.replace("postgres@", "postgres:pw@")
    write_store_pointer(run, url, run_id="fleet-7", schema=pg_schema)
    assert "pw" not in (run / "store.json").read_text()
    with open_run_store(run) as st:
        assert (st.run_id, st.schema) == ("fleet-7", pg_schema) and len(st.read_defects()) == 0
    (run / "store.json").write_text(json.dumps({"url": "x"}))
    with pytest.raises(StoreError, match="invalid store pointer"):
        open_run_store(run)


def test_inspector_defects_survive_reprocessing(store_factory: Any, sample: Any) -> None:
    """A defect added in review stays through a re-processing (which replaces the defects)
    with its author's decision; ids and sources are checked."""
    import shapely

    from survey.defects import Defect
    from survey.store import INSPECTOR_LAYER, StoreError

    d0 = sample.defects[0]
    ring = shapely.Point(d0.lon_deg + 1e-4, d0.lat_deg).buffer(2e-6)
    added = Defect(
        defect_id="insp-1", class_name="missing_fastener", confidence=1.0, severity=4,
        geometry=ring, lon_deg=d0.lon_deg + 1e-4, lat_deg=d0.lat_deg, sensors="inspector",
        n_sightings=0, decision="confirmed", reviewer="ana", decided_t_s=1.7e9,
        review_comment="clip gone, seen on frame 12", reviewed_severity=4,
    )  # fmt: skip
    with store_factory() as st:
        st.write_defects(sample.defects)
        got = st.add_defect(added)
        assert got.sensors == "inspector" and got.run_id == "r1" and got.final_severity == 4
        assert INSPECTOR_LAYER in st.layers() and len(st.read_defects()) == len(sample.defects) + 1
        with pytest.raises(StoreError, match="exists"):
            st.add_defect(added)
        with pytest.raises(StoreError, match="inspector"):
            st.add_defect(added.replace(defect_id="insp-2", sensors="rgb"))
        st.record_review(
            Review(defect_id="insp-1", decision="needs_revisit", reviewer="ben",
                   decided_t_s=1.8e9, comment="check on site", severity=5)
        )  # fmt: skip
    with store_factory() as st:  # re-processing writes the model's defects again
        st.write_defects(sample.defects)
        back = st.read_defects()
        assert len(back) == len(sample.defects) + 1
        row = back[list(back.defect_id).index("insp-1")]
        assert (row.class_name, row.decision, row.reviewer) == (
            "missing_fastener",
            "needs_revisit",
            "ben",
        )
        assert row.final_severity == 5 and row.geometry.equals_exact(ring, 1e-9)
