"""QGIS default styles in the run's GeoPackage and in a gpkg export."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pyogrio

from survey.report.export import SEVERITY_COLOURS  # the report's colours: the reference


def _styles(path: Path) -> dict[str, tuple[str, str, int]]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT f_table_name, f_geometry_column, styleQML, useAsDefault FROM layer_styles"
        ).fetchall()
        kinds = {r[0]: r[1] for r in db.execute("SELECT table_name, data_type FROM gpkg_contents")}
    assert kinds.get("layer_styles") == "attributes"
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _check_defects_style(qml: str) -> None:
    root = ET.fromstring(qml.split("\n", 1)[1])  # after the DOCTYPE line
    r = root.find("renderer-v2")
    assert r is not None and r.get("type") == "categorizedSymbol"
    assert r.get("attr") == "final_severity"
    cats = r.findall("categories/category")
    assert [c.get("value") for c in cats] == ["1", "2", "3", "4", "5"]
    colours = []
    for sym in r.findall("symbols/symbol"):
        opts = {o.get("name"): o.get("value") for o in sym.iter("Option") if o.get("name")}
        colours.append(opts.get("color"))
    want = [
        ",".join(str(int(h.lstrip("#")[i : i + 2], 16)) for i in (0, 2, 4))
        for h in SEVERITY_COLOURS
    ]
    assert [c.rsplit(",", 1)[0] for c in colours] == want  # the report's severity colours
    label = root.find("labeling/settings/text-style")
    assert label is not None and "chainage_label" in label.get("fieldName", "")


def test_run_store_and_export_carry_qgis_styles(run: tuple[Path, Any], tmp_path: Path) -> None:
    from survey.report.export import export_run
    from survey.store.base import open_run_store

    rd, sample = run
    with open_run_store(rd) as st:
        st.write_defects(sample.defects)  # the store writes the styles with its layers
        st.write_layer("route", sample.route)
        layers = st.layers()
        out = export_run(st, tmp_path / "x.gpkg", "gpkg")
    assert "layer_styles" not in layers  # a table for QGIS, not a data layer
    for path in (rd / "defects.gpkg", out[0]):
        styles = _styles(path)
        assert {"defects", "route"} <= set(styles), path
        col, qml, default = styles["defects"]
        assert default == 1 and col  # the geometry column QGIS keys the style on
        _check_defects_style(qml)
        # GDAL still reads every layer, and the defects are all there
        assert len(pyogrio.read_dataframe(path, layer="defects")) == len(sample.defects)
