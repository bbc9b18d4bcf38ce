"""Defect and detection records, their struct-of-arrays sets, the schema, the sample builder."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Point, box

from survey.config import SeverityConfig
from survey.defects import (
    DEFECT_FIELDS,
    DETECTION_FIELDS,
    REVIEW_FIELDS,
    Defect,
    DefectError,
    DefectSet,
    Detection,
    Review,
    schema_markdown,
    shapefile_names,
)
from survey.defects.sample import chainage_label, osm_way, sample_run
from survey.report.severity import assess_severity, recommended_action


def _defect(i: int = 1, **kw: object) -> Defect:
    base = dict(
        defect_id=f"D{i:04d}",
        class_name="missing_fastener",
        confidence=0.8,
        severity=3,
        geometry=box(15.6, 48.2, 15.60001, 48.20001),
        lon_deg=15.600005,
        lat_deg=48.200005,
    )
    base.update(kw)
    return Defect(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def real_sample(shared_data: Path):  # type: ignore[no-untyped-def]
    line, tags = osm_way(
        shared_data / "geometry" / "railway_osm" / "Sankt_Poelten_railways.geojson"
    )
    assert tags["ref"] == "110 01" and tags["gauge"] == "1435"
    return line, sample_run(line, asset_id="110 01", seed=3)


def test_schema_names_fit_shapefiles() -> None:
    for fields in (DEFECT_FIELDS, DETECTION_FIELDS, REVIEW_FIELDS):
        short = list(shapefile_names(fields).values())
        assert all(1 <= len(s) <= 10 for s in short)
        assert len(set(short)) == len(short) and len({f.name for f in fields}) == len(fields)
    stored = {f.name for f in DEFECT_FIELDS if not f.derived}
    record = set(Defect.__dataclass_fields__) - {"geometry"}
    assert stored == record  # the schema and the record say the same thing
    table = schema_markdown(DEFECT_FIELDS)
    assert table.count("\n") == len(DEFECT_FIELDS) + 2 and "`ch_start_m`" in table


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"severity": 0}, "severity must be 1..5, got 0"),
        ({"severity": 6}, "severity must be 1..5"),
        ({"confidence": 1.2}, "confidence must be in 0..1"),
        ({"decision": "approved"}, "decision must be one of"),
        ({"side": "up"}, "side must be one of"),
        ({"reviewed_severity": 7}, "reviewed_severity must be 0"),
        ({"defect_id": ""}, "defect_id must not be empty"),
    ],
)
def test_bad_defects_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(DefectError, match=message) as ei:
        _defect(**change)
    assert isinstance(ei.value, ValueError)


def test_bad_reviews_and_detections_are_refused() -> None:
    with pytest.raises(DefectError, match="reviewer must be named"):
        Review(defect_id="D1", decision="confirmed", reviewer=" ", decided_t_s=1.0)
    with pytest.raises(DefectError, match="decided_t_s must be a time"):
        Review(defect_id="D1", decision="confirmed", reviewer="a", decided_t_s=math.nan)
    with pytest.raises(DefectError, match="sensor must be rgb or thermal"):
        Detection(
            detection_id="S1", class_name="x", confidence=0.5, sensor="lidar", source="a", t_s=0
        )


def test_set_from_records_indexing_and_back() -> None:
    recs = [_defect(i, severity=1 + i % 5, source_files=("a.mp4", "b.tiff")) for i in range(1, 8)]
    ds = DefectSet.from_records(recs)
    assert len(ds) == 7 and ds.severity.dtype == np.int64 and ds.geometry.dtype == object
    assert DefectSet.from_records(list(ds)) == ds  # arrays -> records -> arrays is lossless
    assert ds[2].source_files == ("a.mp4", "b.tiff") and ds[2].severity == recs[2].severity
    sub = ds[ds.severity >= 4]
    assert sub.defect_id.tolist() == ["D0003", "D0004"] and isinstance(sub, DefectSet)
    assert ds.index_of("D0005") == 4
    with pytest.raises(KeyError):
        ds.index_of("nope")
    with pytest.raises(AttributeError, match="no field 'sevrity'"):
        _ = ds.sevrity
    both = DefectSet.concat([ds[:2], ds[5:]])
    assert both.defect_id.tolist() == ["D0001", "D0002", "D0006", "D0007"]


def test_frame_round_trip_and_derived_columns() -> None:
    ds = DefectSet.from_records([_defect(1, first_seen_t_s=1709676062.111, reviewed_severity=5)])
    fr = ds.to_frame()
    assert fr.crs.to_epsg() == 4326
    assert fr.first_seen_utc.iloc[0] == "2024-03-05T22:01:02.111Z"
    assert fr.final_severity.iloc[0] == 5 and fr.decided_at.iloc[0] == ""
    assert DefectSet.from_frame(fr) == ds
    with pytest.raises(DefectError, match=r"x.gpkg, DefectSet: missing fields \['class_name'\]"):
        DefectSet.from_frame(fr.drop(columns=["class_name"]), source="x.gpkg")
    fr.loc[0, "severity"] = 9
    with pytest.raises(DefectError, match="x.gpkg, defect 'D0001': severity must be 1..5$"):
        DefectSet.from_frame(fr, source="x.gpkg")


def test_duplicate_ids_are_refused() -> None:
    ds = DefectSet.from_records([_defect(1), _defect(1)])
    with pytest.raises(DefectError, match=r"duplicate defect_id \['D0001'\]"):
        ds.validate()


def test_latest_review_wins() -> None:
    ds = DefectSet.from_records([_defect(1), _defect(2)])
    reviews = [
        Review(defect_id="D0001", decision="rejected", reviewer="b", decided_t_s=20.0),
        Review(defect_id="D0001", decision="confirmed", reviewer="a", decided_t_s=10.0, severity=4),
    ]
    out = ds.apply_reviews(reviews)
    assert out.decision.tolist() == ["rejected", "unreviewed"] and out.reviewer[0] == "b"
    assert out.final_severity.tolist() == [3, 3] and ds.decision[0] == "unreviewed"


def test_severity_rules_follow_domain_table() -> None:
    cfg = SeverityConfig()
    cls = np.array(
        [
            "broken_rail",
            "missing_fastener",
            "missing_fastener",
            "missing_fastener",
            "missing_fastener",
            "vegetation",
            "leak_candidate",
            "leak_candidate",
            "mystery",
        ]
    )
    ch = np.array([0.0, 100.0, 103.0, 106.0, 300.0, 0.0, 0.0, 0.0, 0.0])
    side = np.array(["right", "left", "left", "left", "left", "", "", "", ""])
    dt = np.array([np.nan] * 6 + [5.0, 5.0, np.nan])
    area = np.array([0.1] * 6 + [3.0, 1.0, 1.0])
    sev = assess_severity(cls, delta_t_k=dt, area_m2=area, config=cfg, chainage_m=ch, side=side)
    # three fasteners within 10 m on one side are a cluster (4); the one at 300 m stays 3;
    # a 5 K leak needs 2 m2 to be 4; unknown classes get 3
    assert sev.tolist() == [5, 4, 4, 4, 3, 2, 4, 3, 3]
    cfg2 = SeverityConfig(levels=["vegetation=4"])
    assert assess_severity(
        cls[5:6], delta_t_k=dt[5:6], area_m2=area[5:6], config=cfg2
    ).tolist() == [4]
    with pytest.raises(ValueError, match="severity.levels"):
        assess_severity(cls, delta_t_k=dt, area_m2=area, config=SeverityConfig(levels=["x=9"]))
    acts = recommended_action(np.array(["pipeline", "rail"]), np.array([5, 1]), cfg)
    assert acts.tolist() == ["Dispatch now", "Record only"]


def test_sample_run_is_real_chainage_on_the_real_line(real_sample) -> None:  # type: ignore[no-untyped-def]
    line, run = real_sample
    ds = run.defects
    assert len(ds) == 36 and run.epsg == 32633
    fwd = Transformer.from_crs(4326, 32633, always_xy=True)
    utm_line = shapely.LineString(np.column_stack(fwd.transform(*np.asarray(line.coords).T)))
    assert run.length_m == pytest.approx(utm_line.length, abs=1e-6)
    x, y = fwd.transform(ds.lon_deg, ds.lat_deg)
    for i in range(len(ds)):
        p = Point(x[i], y[i])
        # the centre lies at its chainage, at its offset from the centreline (independent check)
        assert utm_line.line_locate_point(p) == pytest.approx(ds.chainage_m[i], abs=0.02)
        assert utm_line.distance(p) == pytest.approx(abs(ds.offset_m[i]), abs=0.02)
        assert ds.chainage_start_m[i] <= ds.chainage_m[i] <= ds.chainage_end_m[i]
    assert np.all(np.diff(ds.chainage_m) >= 0) and ds.chainage_label[0] == chainage_label(
        ds.chainage_m[0]
    )
    rails = np.isin(ds.class_name, ["missing_fastener", "rail_head_damage", "broken_rail"])
    assert np.allclose(np.abs(ds.offset_m[rails]), 0.7535)  # on the rail heads of 1435 mm gauge
    assert set(ds.severity[1:4]) == {4}  # the fastener cluster
    dets = run.detections
    assert len(dets) == ds.n_sightings.sum() + 2
    assert (dets.defect_id == "").sum() == 2 and np.isnan(dets.lon_deg[-2:]).all()


def test_docs_schema_tables_match_the_code(repo_root: Path) -> None:
    readme = (repo_root / "docs" / "defects.md").read_text(encoding="utf-8")
    assert schema_markdown(DEFECT_FIELDS) in readme
    assert schema_markdown(DETECTION_FIELDS) in readme
