"""`survey export`: GIS formats read back with GDAL, COCO read back with pycocotools."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest
from click.testing import CliRunner

from survey.cli import cli


def survey(*args: str) -> Any:
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


def test_gpkg_export_carries_reviews_and_layers(run: tuple[Path, Any]) -> None:
    run_dir, sample = run
    out = run_dir / "out.gpkg"
    survey("export", str(run_dir), "--format", "gpkg", "-o", str(out))
    layers = dict(pyogrio.list_layers(out))
    assert set(layers) == {
        "defects",
        "detections",
        "route",
        "coverage",
        "review_log",
        "layer_styles",
    }
    d = pyogrio.read_dataframe(out, layer="defects")
    assert len(d) == 36 and d.crs.to_epsg() == 4326
    row = d.set_index("defect_id").loc["D0005"]
    assert (row.decision, row.reviewer, row.reviewed_severity, row.final_severity) == (
        "confirmed",
        "eva",
        3,
        3,
    )
    assert row.decided_at == "2024-03-09T16:00:00.000Z"
    assert row.chainage_m == pytest.approx(sample.defects.chainage_m[4])
    log = pyogrio.read_dataframe(out, layer="review_log")
    assert sorted(log.defect_id) == ["D0001", "D0002", "D0005", "D0006"]


def test_selection_by_decision_and_severity(run: tuple[Path, Any]) -> None:
    run_dir, sample = run
    res = survey("export", str(run_dir), "-f", "geojson", "--decision", "confirmed", "--json")
    files = json.loads(res.output)["files"]
    defects = json.loads(Path(next(f for f in files if f.endswith("defects.geojson"))).read_text())
    assert sorted(f["properties"]["defect_id"] for f in defects["features"]) == ["D0001", "D0005"]
    dets = json.loads((run_dir / "exports" / "geojson" / "run-110_detections.geojson").read_text())
    n = int(sample.defects.n_sightings[0] + sample.defects.n_sightings[4])
    assert len(dets["features"]) == n  # only the sightings of the selected defects
    survey(
        "export", str(run_dir), "-f", "geojson", "--min-severity", "4", "-o", str(run_dir / "s4")
    )
    s4 = json.loads((run_dir / "s4" / "run-110_defects.geojson").read_text())
    from survey.store import open_run_store

    with open_run_store(run_dir) as st:
        expected = int((st.read_defects().final_severity >= 4).sum())
    assert (
        expected >= 4
        and len(s4["features"]) == expected
        and all(f["properties"]["final_severity"] >= 4 for f in s4["features"])
    )


def test_shapefile_has_short_names_and_prj(run: tuple[Path, Any]) -> None:
    run_dir, sample = run
    survey("export", str(run_dir), "-f", "shp")
    shp = run_dir / "exports" / "shp" / "run-110_defects.shp"
    assert (
        shp.with_suffix(".prj").is_file() and shp.with_suffix(".cpg").read_text().strip() == "UTF-8"
    )
    d = pyogrio.read_dataframe(shp)
    assert all(len(c) <= 10 for c in d.columns)
    assert {"ch_start_m", "unc_maj_m", "rev_sev", "final_sev", "th_crop"} <= set(d.columns)
    assert d.set_index("defect_id").loc["D0002", "decision"] == "rejected"
    assert np.allclose(d.ch_start_m, sample.defects.chainage_start_m)
    dets = pyogrio.read_dataframe(run_dir / "exports" / "shp" / "run-110_detections.shp")
    meaning = (run_dir / "exports" / "shp" / "run-110_defects.fields.csv").read_text()
    assert "ch_start_m,chainage_start_m,float" in meaning
    assert "mask_rle" not in dets.columns and len(dets) == len(sample.detections)


def test_csv_has_wkt_and_chainage(run: tuple[Path, Any]) -> None:
    import pandas as pd
    import shapely

    run_dir, sample = run
    survey("export", str(run_dir), "-f", "csv")
    df = pd.read_csv(run_dir / "exports" / "csv" / "run-110_defects.csv")
    assert df.chainage_label.tolist() == sample.defects.chainage_label.tolist()
    g = shapely.from_wkt(df.wkt[0])
    assert g.equals_exact(sample.defects.geometry[0], 1e-7)
    assert df.lon_deg[0] == pytest.approx(sample.defects.lon_deg[0])
    assert (run_dir / "exports" / "csv" / "run-110_review_log.csv").read_text().count("\n") == 5


def test_gpkg_in_a_national_crs(run: tuple[Path, Any]) -> None:
    run_dir, sample = run
    out = run_dir / "gk.gpkg"
    survey("export", str(run_dir), "-f", "gpkg", "--crs", "EPSG:31256", "-o", str(out))
    d = pyogrio.read_dataframe(out, layer="defects")
    assert d.crs.to_epsg() == 31256  # MGI / Austria GK East, metres
    assert d.geometry.iloc[0].area == pytest.approx(sample.defects.area_m2[0], rel=0.01)


def test_kml_placemarks_are_styled_by_severity(run: tuple[Path, Any]) -> None:
    run_dir, sample = run
    survey("export", str(run_dir), "-f", "kml")
    root = ET.parse(run_dir / "exports" / "defects.kml").getroot()  # the CLI's default path
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    marks = root.findall(".//k:Placemark", ns)
    assert len(marks) == 36
    names = [m.find("k:name", ns).text for m in marks]
    assert names[0] == f"D0001 {sample.defects.class_name[0]}"
    first = marks[0]
    colour = first.find(".//k:PolyStyle/k:color", ns).text.lower()  # KML is aabbggrr
    rgb = {2: "9e9d24", 3: "f9a825", 4: "ef6c00", 5: "b71c1c", 1: "2e7d32"}[
        int(sample.defects.severity[0])
    ]
    assert colour[2:] == rgb[4:6] + rgb[2:4] + rgb[0:2]
    assert "confirmed" in first.find("k:description", ns).text


def test_unknown_store_and_bad_crs(tmp_path: Path, run: tuple[Path, Any]) -> None:
    res = CliRunner().invoke(cli, ["export", str(tmp_path)])
    assert res.exit_code != 0 and "has no defect store" in str(res.exception)
    res = CliRunner().invoke(cli, ["export", str(run[0]), "-f", "kml", "--crs", "EPSG:3857"])
    assert res.exit_code != 0 and "WGS84 by definition" in str(res.exception)


def test_coco_of_reviewed_detections(run: tuple[Path, Any]) -> None:
    from pycocotools.coco import COCO

    run_dir, sample = run
    res = survey("export", str(run_dir), "-f", "coco", "--json")
    info = json.loads(res.output)
    coco = COCO(info["annotations"])
    ds, dets = sample.defects, sample.detections
    decided = {"D0001": "confirmed", "D0002": "rejected", "D0005": "confirmed"}
    sel = np.isin(dets.defect_id, list(decided))
    # every frame here holds exactly one sighting, so every decided sighting is an instance
    assert len(coco.getAnnIds()) == int(sel.sum()) == info["instances"]
    cats = {c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert cats == {ds.class_name[0], ds.class_name[4], "false_positive"}
    fp = coco.getCatIds(catNms=["false_positive"])
    assert len(coco.getAnnIds(catIds=fp)) == int(ds.n_sightings[1])
    ann = coco.loadAnns(coco.getAnnIds())[0]
    mask = coco.annToMask(ann)
    assert mask.sum() == ann["area"] == ann["bbox"][2] * ann["bbox"][3]
    img = coco.loadImgs(ann["image_id"])[0]
    assert (Path(info["annotations"]).parent / img["file_name"]).is_file()
    bg = survey(
        "export",
        str(run_dir),
        "-f",
        "coco",
        "--rejected",
        "background",
        "-o",
        str(run_dir / "c2"),
        "--json",
    )
    assert json.loads(bg.output)["instances"] == int(sel.sum() - ds.n_sightings[1])
