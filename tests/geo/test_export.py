"""GIS export in every format, read back with GDAL, with the schema's names and types."""

from __future__ import annotations

import csv

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from geo import (
    COVERAGE_FIELDS,
    FOOTPRINT_FIELDS,
    FieldSpec,
    Route,
    conform,
    coverage_by_chainage,
    coverage_layers,
    ellipse_polygons,
    export_layers,
    flight_path_layer,
    footprints_layer,
    schema_markdown,
)
from geo.errors import ExportError

DEFECT_SCHEMA = (
    FieldSpec("defect_id", "defect_id", "str", "Identifier."),
    FieldSpec("class_name", "class", "str", "Defect class."),
    FieldSpec("confidence", "confidence", "float", "0-1."),
    FieldSpec("severity", "severity", "int", "1-5."),
    FieldSpec("chainage_m", "chainage_m", "float", "m."),
    FieldSpec("chainage_label", "ch_label", "str", "km+m."),
    FieldSpec("offset_m", "offset_m", "float", "m, + right."),
    FieldSpec("side", "side", "str", "left/right/centre."),
    FieldSpec("unc_major_m", "unc_maj_m", "float", "m."),
    FieldSpec("first_seen_t_s", "t_first_s", "float", "UTC s."),
    FieldSpec("rgb_crop", "rgb_crop", "str", "path."),
    FieldSpec("confirmed", "confirmed", "bool", "review."),
)


def _defects():
    pts = [shapely.Point(540000 + 10 * i, 5340000).buffer(0.5) for i in range(3)]
    return gpd.GeoDataFrame(
        {
            "defect_id": ["D1", "D2", "D3"], "class_name": ["missing_fastener", "vegetation", "squat"],
            "confidence": [0.9, 0.5, 0.75], "severity": [3, 2, 5], "chainage_m": [12345.6, 12355.6, 12365.6],
            "chainage_label": ["12+345.6", "12+355.6", "12+365.6"], "offset_m": [-0.7, 2.0, 0.1],
            "side": ["left", "right", "centre"], "unc_major_m": [1.2, 1.5, 0.9],
            "first_seen_t_s": [1.7e9, 1.7e9 + 1, 1.7e9 + 2], "rgb_crop": ["crops/D1.jpg", "", "crops/D3.jpg"],
            "confirmed": [True, False, True], "extra_column": [1, 2, 3],
        },
        geometry=pts, crs=32633,
    )  # fmt: skip


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "shp", "kml", "csv", "fgb"])
def test_every_format_round_trips(tmp_path, fmt):
    d = _defects()
    files = export_layers(
        {"defects": (d, DEFECT_SCHEMA)}, tmp_path / "run", fmt, name_field="defect_id"
    )
    assert len(files) == 1 and files[0].exists()
    f = files[0]
    if fmt == "csv":
        rows = list(csv.DictReader(f.open()))
        assert [r["chainage_label"] for r in rows] == ["12+345.6", "12+355.6", "12+365.6"]
        lon = float(rows[0]["lon_deg"])
        assert lon == pytest.approx(d.to_crs(4326).geometry.iloc[0].centroid.x, abs=1e-6)
        assert shapely.from_wkt(rows[0]["wkt"]).geom_type == "Polygon"
        return
    back = gpd.read_file(f)
    key = "Name" if fmt == "kml" else "defect_id"
    back = back.sort_values(key).reset_index(drop=True)  # FlatGeobuf stores in Hilbert order
    if fmt in ("geojson", "kml"):
        assert back.crs.to_epsg() == 4326
    else:
        assert back.crs.to_epsg() == 32633
    name = {"shp": "ch_label"}.get(fmt, "chainage_label")
    assert back[name].tolist() == ["12+345.6", "12+355.6", "12+365.6"]
    if fmt == "shp":
        assert max(len(c) for c in back.columns) <= 10 and "extra_column" not in back.columns
        assert back["severity"].dtype.kind == "i" and back["class"].tolist()[2] == "squat"
        mapping = (f.with_suffix(".fields.csv")).read_text()
        assert "ch_label,chainage_label,str" in mapping
    elif fmt == "kml":
        assert back["Name"].tolist() == ["D1", "D2", "D3"]
    else:
        assert back["severity"].tolist() == [3, 2, 5]
        assert back["confidence"].tolist() == pytest.approx([0.9, 0.5, 0.75])
    c0 = back.to_crs(4326).geometry.iloc[0].centroid
    assert c0.x == pytest.approx(d.to_crs(4326).geometry.iloc[0].centroid.x, abs=1e-7)


def test_geopackage_layers_of_a_run(tmp_path):
    d = _defects()
    route = Route("L", shapely.LineString([(540000, 5339990), (540100, 5339990)]), "EPSG:32633")
    fps = [
        shapely.box(540000, 5339980, 540040, 5340000),
        shapely.box(540060, 5339980, 540100, 5340000),
    ]
    cov, gaps = coverage_layers(
        coverage_by_chainage(route, fps, [0.01, 0.01], ["rgb", "rgb"]), route
    )
    fp = footprints_layer(fps, 32633, frame_id=["a", "b"], camera=["rgb", "rgb"], source=["v.mp4"] * 2,
                          frame=[0, 30], t_s=[1.0, 2.0], gsd_m=[0.01, 0.01], alt_agl_m=[30.0, 30.0],
                          gimbal_pitch_deg=[-90.0, -90.0])  # fmt: skip
    path = flight_path_layer(
        [540000, 540050, 540100], [5339990, 5339991, 5339990], [0, 1, 2], 32633
    )
    ell = gpd.GeoDataFrame({"defect_id": d["defect_id"]}, crs=32633,
                           geometry=ellipse_polygons([540000.0] * 3, [5340000.0] * 3, np.tile(np.eye(2), (3, 1, 1))))  # fmt: skip
    files = export_layers(
        {"defects": (d, DEFECT_SCHEMA), "footprints": (fp, FOOTPRINT_FIELDS), "flight_path": (path, None),
         "coverage": (cov, COVERAGE_FIELDS), "ellipses": (ell, None)}, tmp_path / "run.gpkg",
    )  # fmt: skip
    layers = dict(pyogrio.list_layers(files[0]))
    assert set(layers) == {"defects", "footprints", "flight_path", "coverage", "ellipses"}
    c = gpd.read_file(files[0], layer="coverage")
    assert c["chainage_start_m"].tolist() == pytest.approx([0.0, 60.0]) and len(gaps) == 1


def test_schema_errors(tmp_path):
    d = _defects().drop(columns="severity")
    with pytest.raises(ExportError, match="lacks field.*severity"):
        export_layers({"defects": (d, DEFECT_SCHEMA)}, tmp_path / "x.gpkg")
    filled = conform(d, DEFECT_SCHEMA, strict=False)
    assert filled["severity"].tolist() == [-1, -1, -1]
    bad = [*DEFECT_SCHEMA, FieldSpec("chainage_start_m", "chainage_m", "float", "dup short")]
    with pytest.raises(ExportError, match="appears twice"):
        export_layers({"defects": (_defects(), bad)}, tmp_path / "x.shp")
    mixed = gpd.GeoDataFrame(
        {"a": [1, 2]}, geometry=[shapely.Point(0, 0), shapely.box(0, 0, 1, 1)], crs=32633
    )
    with pytest.raises(ExportError, match="mixes geometry types"):
        export_layers({"m": (mixed, None)}, tmp_path / "m.shp")
    with pytest.raises(ExportError, match="unknown export format"):
        export_layers({"defects": (_defects(), DEFECT_SCHEMA)}, tmp_path / "x.xyz")
    wrong = _defects()
    wrong["confidence"] = ["high", "low", "mid"]
    with pytest.raises(ExportError, match="confidence"):
        export_layers({"defects": (wrong, DEFECT_SCHEMA)}, tmp_path / "x.gpkg")
    assert "| `chainage_label` | `ch_label` | str |" in schema_markdown(DEFECT_SCHEMA)
