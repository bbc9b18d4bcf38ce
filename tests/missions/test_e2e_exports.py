"""`survey export` of a processed simulated run to every GIS format, read back with pyogrio.

The run (``small_run``) holds every layer a real run has: defects, detections, route, coverage,
footprints and flight path. Each format's files are reopened with GDAL (pyogrio) and compared
with the store; Shapefile names come from the declared mapping written beside each file.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest
from click.testing import CliRunner

from survey.cli import cli
from survey.report.export import ExportError
from survey.store import open_run_store

LAYERS = ("defects", "detections", "route", "coverage", "footprints", "flight_path")


def _export(run: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["export", str(run), *args], catch_exceptions=False)


@pytest.fixture
def run(small_run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(small_run, dst)
    return dst


def _store_layers(run: Path) -> dict[str, Any]:
    with open_run_store(run) as st:
        out = {
            "defects": st.read_defects().to_frame(),
            "detections": st.read_detections().to_frame(),
        }
        for name in st.layers():
            out[name] = st.read_layer(name)
    return out


def test_every_format_reopens_with_every_layer(run: Path) -> None:
    ref = _store_layers(run)
    assert set(LAYERS) <= set(ref) and all(len(ref[n]) > 0 for n in LAYERS)
    route = ref["route"].iloc[0]
    for fmt in ("gpkg", "geojson", "shp", "kml", "csv", "fgb"):
        res = _export(run, "-f", fmt)
        assert res.exit_code == 0, (fmt, res.output)
        files = [Path(p) for p in res.output.split()]
        assert all(p.is_file() for p in files), fmt
        if fmt == "kml":
            (kml,) = files
            d = pyogrio.read_dataframe(kml)
            assert len(d) == len(ref["defects"]) and d.crs.to_epsg() == 4326
            continue
        if fmt == "gpkg":
            (gpkg,) = files
            read = {n: pyogrio.read_dataframe(gpkg, layer=n) for n in LAYERS}
            assert "review_log" in dict(pyogrio.list_layers(gpkg))
        else:
            ext = {"geojson": ".geojson", "shp": ".shp", "csv": ".csv", "fgb": ".fgb"}[fmt]
            by_name = {p.name: p for p in files}
            read = {n: pyogrio.read_dataframe(by_name[f"run_{n}{ext}"]) for n in LAYERS}
        for n in LAYERS:
            assert len(read[n]) == len(ref[n]), (fmt, n)
        r = read["route"].iloc[0]
        if fmt == "shp":
            assert all(len(c) <= 10 for n in LAYERS for c in read[n].columns)
            mapping = _mapping(by_name["run_route.shp"].with_suffix(".fields.csv"))
            assert mapping == {
                "route_id": "route_id",
                "name": "name",
                "length_m": "length_m",
                "chainage_start_m": "ch_start_m",
                "chainage_end_m": "ch_end_m",
                "chainage_label": "ch_label",
            }
            txt = by_name["run_route.shp"].with_suffix(".fields.txt").read_text()
            assert "ch_start_m  chainage_start_m" in txt
            start, end, label = r.ch_start_m, r.ch_end_m, r.ch_label
            d = read["defects"].set_index("defect_id")
            assert np.allclose(
                d.loc[ref["defects"].defect_id, "ch_start_m"], ref["defects"].chainage_start_m
            )
        else:
            start, end, label = r.chainage_start_m, r.chainage_end_m, r.chainage_label
            d = read["defects"].set_index("defect_id")
            assert np.allclose(
                d.loc[ref["defects"].defect_id, "chainage_m"].astype(float),
                ref["defects"].chainage_m,
            )
        assert float(start) == pytest.approx(route.chainage_start_m)
        assert float(end) == pytest.approx(route.chainage_end_m)
        assert label == route.chainage_label
        if fmt in ("gpkg", "fgb", "shp"):  # own CRS: geometries equal the store's
            utm = ref["footprints"].estimate_utm_crs()
            g = read["footprints"].to_crs(utm).geometry.area.sum()
            assert g == pytest.approx(ref["footprints"].to_crs(utm).geometry.area.sum(), rel=1e-6)


def _mapping(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8") as fh:
        return {row["column"]: row["shapefile_name"] for row in csv.DictReader(fh)}


def test_a_failed_export_leaves_no_partial_files(run: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import Point, box

    ok = _export(run, "-f", "shp", "-o", str(run / "shp"))
    assert ok.exit_code == 0, ok.output
    before = {p.name: p.read_bytes() for p in (run / "shp").iterdir()}
    # a layer a Shapefile cannot hold (points and polygons), written after defects/detections
    with open_run_store(run) as st:
        crs = st.read_layer("route").crs
        st.write_layer(
            "zz_mixed",
            gpd.GeoDataFrame({"a": [1, 2]}, geometry=[Point(0, 0), box(0, 0, 1, 1)], crs=crs),
        )
    for out in (run / "shp", run / "fresh"):
        with pytest.raises(ExportError, match="mixes geometry types"):
            _export(run, "-f", "shp", "-o", str(out))
    assert {p.name: p.read_bytes() for p in (run / "shp").iterdir()} == before
    assert not (run / "fresh").exists() or list((run / "fresh").iterdir()) == []
