"""QGIS styles inside the GeoPackage: defects coloured by severity, labelled by chainage.

QGIS reads a GeoPackage's ``layer_styles`` table (its own convention, also used by QGIS when
"Save style to database" is chosen) and applies the row with ``useAsDefault = 1`` when the layer
is added. :func:`write_layer_styles` writes one QML style per styled layer: ``defects`` as a
categorised renderer on ``final_severity`` (the report's five severity colours, S1 monitor ... S5
immediate) with labels "class S<n> chainage"; ``detections`` small grey markers; ``route`` a
dark line; ``coverage`` a translucent band. The table is registered in ``gpkg_contents`` as an
attributes table, as QGIS does.
"""

from __future__ import annotations

import sqlite3
import time
from xml.sax.saxutils import quoteattr

from survey.defects import SEVERITY_COLOURS

__all__ = ["LAYER_STYLES", "defects_qml", "write_layer_styles"]

SEVERITY_LABELS = ("S1 monitor", "S2 plan", "S3 soon", "S4 urgent", "S5 immediate")

_TABLE = (
    "CREATE TABLE IF NOT EXISTS layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256), "
    "f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT, "
    "useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30), update_time DATETIME "
    "DEFAULT CURRENT_TIMESTAMP)"
)


def _rgba(hex_colour: str, alpha: int = 255) -> str:
    h = hex_colour.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha}"


def _opts(**kv: str) -> str:
    return "".join(
        f'<Option type="QString" name="{k}" value={quoteattr(v)}/>' for k, v in kv.items()
    )


def _symbol(kind: str, name: str, colour: str, alpha: float = 1.0) -> str:
    """A QGIS symbol: ``fill`` (polygons), ``marker`` (points) or ``line``."""
    if kind == "fill":
        layer = "SimpleFill", _opts(color=_rgba(colour, 150), outline_color=_rgba(colour),
                                    outline_width="0.6", outline_width_unit="MM", style="solid")  # fmt: skip
    elif kind == "marker":
        layer = "SimpleMarker", _opts(color=_rgba(colour), outline_color="0,0,0,255",
                                      name="circle", size="3", size_unit="MM")  # fmt: skip
    else:
        layer = "SimpleLine", _opts(line_color=_rgba(colour), line_width="0.8",
                                    line_width_unit="MM", line_style="solid")  # fmt: skip
    return (
        f'<symbol type="{kind}" name="{name}" alpha="{alpha}" clip_to_extent="1" force_rhr="0">'
        f'<layer class="{layer[0]}" enabled="1" locked="0" pass="0">'
        f'<Option type="Map">{layer[1]}</Option></layer></symbol>'
    )


def _qml(body: str) -> str:
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.28.0" styleCategories="Symbology|Labeling">' + body + "</qgis>"
    )


def defects_qml(geometry: str = "fill") -> str:
    """The defects style: categories on ``final_severity``, labels class, severity, chainage."""
    cats = "".join(
        f'<category symbol="{i}" value="{i + 1}" label="{SEVERITY_LABELS[i]}" render="true"/>'
        for i in range(5)
    )
    syms = "".join(_symbol(geometry, str(i), SEVERITY_COLOURS[i]) for i in range(5))
    label = quoteattr('"class_name" || \' S\' || "final_severity" || \'  \' || "chainage_label"')
    labeling = (
        '<labeling type="simple"><settings calloutType="simple">'
        f'<text-style fieldName={label} isExpression="1" fontSize="9" textColor="0,0,0,255"'
        ' fontWeight="50"><text-buffer bufferDraw="1" bufferSize="1"'
        ' bufferColor="255,255,255,255"/></text-style>'
        '<placement placement="1" dist="1" distUnits="MM"/>'
        '<rendering scaleVisibility="1" scaleMin="0" scaleMax="10000"/>'
        "</settings></labeling>"
    )
    return _qml(
        '<renderer-v2 type="categorizedSymbol" attr="final_severity" symbollevels="0"'
        f' enableorderby="0" forceraster="0"><categories>{cats}</categories>'
        f"<symbols>{syms}</symbols></renderer-v2>{labeling}"
    )


def _single_qml(geometry: str, colour: str, alpha: float = 1.0) -> str:
    return _qml(
        '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
        f"<symbols>{_symbol(geometry, '0', colour, alpha)}</symbols></renderer-v2>"
    )


#: layer -> (style name, QML builder taking the QGIS symbol kind of its geometry)
LAYER_STYLES = {
    "defects": ("severity", defects_qml),
    "detections": ("sightings", lambda g: _single_qml(g, "#616161", 0.7)),
    "route": ("route", lambda g: _single_qml(g, "#212121")),
    "coverage": ("coverage", lambda g: _single_qml(g, "#1e88e5", 0.25)),
}


def _kind(db: sqlite3.Connection, table: str) -> tuple[str, str] | None:
    row = db.execute(
        "SELECT column_name, geometry_type_name FROM gpkg_geometry_columns WHERE table_name = ?",
        (table,),
    ).fetchone()
    if row is None:
        return None
    gtype = str(row[1]).upper()
    kind = "marker" if "POINT" in gtype else "line" if "LINE" in gtype else "fill"
    return str(row[0]), kind


def write_layer_styles(db: sqlite3.Connection, layers: list[str] | None = None) -> list[str]:
    """(Re)write the default QGIS style of each styled layer present; returns the layers styled.

    ``db`` is an open connection to the GeoPackage (autocommit); the caller holds its lock.
    """
    db.execute(_TABLE)
    db.execute(
        "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) "
        "VALUES ('layer_styles', 'attributes', 'layer_styles', 'QGIS layer styles')"
    )
    done = []
    for table, (style, build) in LAYER_STYLES.items():
        if layers is not None and table not in layers:
            continue
        found = _kind(db, table)
        if found is None:
            continue
        column, kind = found
        db.execute("DELETE FROM layer_styles WHERE f_table_name = ? AND styleName = ?",
                   (table, style))  # fmt: skip
        db.execute(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
            "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, owner, "
            "ui, update_time) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, 'railpipe-survey', '', ?)",
            (table, column, style, build(kind), f"railpipe-survey {style} style",
             time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
        )  # fmt: skip
        done.append(table)
    return done
