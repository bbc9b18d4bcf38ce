"""Survey maps with folium that open from a file with no server and no internet.

The map shows asset lines, the flight path, frame footprints, coverage gaps, and defects as
circle markers coloured by severity with their polygons and uncertainty ellipses; popups hold
the attributes, the chainage and an evidence thumbnail; a layer control and a legend. Leaflet
and jQuery (which folium's popups use), vendored in ``geo/data/web`` (see its README), are inlined into the HTML with its images as
data URIs, and thumbnails are embedded as data URIs too, so the single file can be mailed or
opened in the field. A base map is optional: ``basemap="osm"`` adds OpenStreetMap tiles
(which need a connection; the map works without them), a URL template adds those tiles, and
``None`` gives a plain background. ``imagery`` adds tile layers that sit beside the HTML file
(the run's own draped frames, :class:`LocalTiles`): they load from relative paths, offline,
and are the map's base layers when given.
"""

from __future__ import annotations

import base64
import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from geo.errors import GeoFileNotFoundError, GeoValueError

__all__ = [
    "SEVERITY_COLOURS",
    "SEVERITY_LABELS",
    "LocalTiles",
    "leaflet_assets",
    "survey_map",
    "write_map",
]

log = logging.getLogger(__name__)

SEVERITY_COLOURS: dict[int, str] = {
    1: "#2c7bb6",
    2: "#1a9641",
    3: "#e6b800",
    4: "#fd8d3c",
    5: "#d7191c",
}
SEVERITY_LABELS: dict[int, str] = {
    1: "1 record only",
    2: "2 monitor",
    3: "3 act within weeks",
    4: "4 act within days",
    5: "5 act now",
}
_UNKNOWN = "#7f7f7f"

DEFAULT_POPUP_FIELDS: tuple[tuple[str, str], ...] = (
    ("defect_id", "Defect"),
    ("class_name", "Class"),
    ("severity", "Severity"),
    ("confidence", "Confidence"),
    ("chainage_label", "Chainage"),
    ("asset_id", "Route"),
    ("offset_m", "Offset (m, + right)"),
    ("side", "Side"),
    ("unc_major_m", "95 % ellipse major (m)"),
    ("unc_minor_m", "95 % ellipse minor (m)"),
    ("n_sightings", "Sightings"),
    ("first_seen_utc", "First seen (UTC)"),
    ("delta_t_k", "ΔT (K)"),
    ("decision", "Review"),
)


@lru_cache(maxsize=1)
def leaflet_assets() -> tuple[str, str]:
    """JavaScript (jQuery, which folium's popups use, and Leaflet) and Leaflet's CSS with its
    images inlined as data URIs, from the vendored copies in ``geo/data/web``."""
    web = resources.files("geo") / "data" / "web"
    root = web / "leaflet"
    js = (web / "jquery" / "jquery.min.js").read_text(encoding="utf-8")
    js += "\n" + (root / "leaflet.js").read_text(encoding="utf-8")
    css = (root / "leaflet.css").read_text(encoding="utf-8")

    def inline(m: re.Match[str]) -> str:
        data = (root / "images" / m.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode()})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", inline, css)
    return js, css


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float | np.floating):
        f = float(v)
        if not np.isfinite(f):
            return ""
        return f"{f:.3f}" if abs(f) < 10 else f"{f:.1f}"
    return str(v)


def _thumbnail(value: Any, base_dir: Path | None, embed: bool, max_px: int) -> str:
    if not isinstance(value, str) or not value:
        return ""
    p = Path(value)
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    if not p.is_file():
        log.warning("evidence thumbnail %s not found", p)
        return f"<p><i>evidence missing: {html.escape(value)}</i></p>"
    if not embed:
        return f'<img src="{html.escape(p.as_uri())}" style="max-width:{max_px}px">'
    import cv2

    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None:
        return f"<p><i>evidence unreadable: {html.escape(value)}</i></p>"
    h, w = img.shape[:2]
    s = min(1.0, max_px / max(h, w))
    if s < 1.0:
        img = cv2.resize(
            img, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA
        )
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        return ""
    b64 = base64.b64encode(buf.tobytes()).decode()
    return f'<img class="evidence" src="data:image/jpeg;base64,{b64}" alt="evidence">'


def _legend_html(title: str, severities: Sequence[int], extra: Sequence[tuple[str, str]]) -> str:
    rows = "".join(
        f'<div><span style="background:{SEVERITY_COLOURS[s]}" class="sw"></span>'
        f"{html.escape(SEVERITY_LABELS[s])}</div>"
        for s in sorted(set(severities), reverse=True)
        if s in SEVERITY_COLOURS
    )
    rows += "".join(
        f'<div><span style="background:{c}" class="sw line"></span>{html.escape(t)}</div>'
        for t, c in extra
    )
    return (
        '<div id="survey-legend" class="survey-legend">'
        f"<b>{html.escape(title)}</b><div>Severity (advisory)</div>{rows}"
        '<div class="note">Ellipses: 95 % position uncertainty</div></div>'
    )


_LEGEND_CSS = """
.survey-legend{position:absolute;bottom:24px;right:10px;z-index:1000;background:#fff;
 padding:8px 10px;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.4);font:12px/1.4 sans-serif}
.survey-legend .sw{display:inline-block;width:12px;height:12px;border-radius:6px;margin-right:6px;
 vertical-align:middle}
.survey-legend .sw.line{height:4px;border-radius:0}
.survey-legend .note{color:#555;margin-top:4px}
.survey-popup table{border-collapse:collapse;font:12px sans-serif}
.survey-popup td{padding:1px 6px;border-bottom:1px solid #eee}
.survey-popup img.evidence{max-width:260px;display:block;margin-top:6px}
"""


def _to_wgs84(gdf: Any, what: str) -> Any:
    if gdf is None or len(gdf) == 0:
        return None
    if gdf.crs is None:
        raise GeoValueError(f"{what} layer has no CRS")
    return gdf.to_crs(4326)


def _ellipses_from_axes(defects: Any) -> Any:
    """95 % ellipse polygons from unc_major_m / unc_minor_m / unc_azimuth_deg columns."""
    import geopandas as gpd
    import shapely

    from geo.frames import LocalFrame

    need = ("unc_major_m", "unc_minor_m", "unc_azimuth_deg")
    if not all(c in defects.columns for c in need):
        return None
    d = defects.to_crs(4326)
    rep = shapely.point_on_surface(d.geometry.values)
    lon = d["lon_deg"].to_numpy(float) if "lon_deg" in d else shapely.get_x(rep)
    lat = d["lat_deg"].to_numpy(float) if "lat_deg" in d else shapely.get_y(rep)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return None
    frame = LocalFrame.for_lonlat(float(np.nanmean(lon[ok])), float(np.nanmean(lat[ok])))
    x, y = frame.from_lonlat(lon, lat)
    a, b = d["unc_major_m"].to_numpy(float), d["unc_minor_m"].to_numpy(float)
    az = np.deg2rad(d["unc_azimuth_deg"].to_numpy(float))
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    polys: list[Any] = []
    for i in range(len(d)):
        if not (ok[i] and np.isfinite(a[i]) and np.isfinite(b[i]) and np.isfinite(az[i])):
            polys.append(None)
            continue
        # major axis along azimuth (clockwise from north): unit (sin az, cos az)
        ux, uy = np.sin(az[i]), np.cos(az[i])
        px = x[i] + a[i] * np.cos(t) * ux + b[i] * np.sin(t) * uy
        py = y[i] + a[i] * np.cos(t) * uy - b[i] * np.sin(t) * ux
        polys.append(shapely.Polygon(np.stack([px, py], -1)))
    return gpd.GeoDataFrame({"severity": d.get("severity", 0)}, geometry=polys, crs=frame.crs)


@dataclass(frozen=True)
class LocalTiles:
    """An XYZ tile layer stored beside the map (``url`` relative to the HTML file)."""

    name: str
    url: str  #: template with ``{z}/{x}/{y}``
    min_zoom: int
    max_zoom: int  #: finest zoom that has tiles (the map zooms two levels further)
    bounds: tuple[float, float, float, float]  #: west, south, east, north (degrees)
    attribution: str = "survey imagery"


def survey_map(
    path: str | PathLike[str] | None = None,
    *,
    defects: Any = None,
    routes: Any = None,
    flight_path: Any = None,
    footprints: Any = None,
    gaps: Any = None,
    ellipses: Any = None,
    title: str = "Survey",
    basemap: str | None = "osm",
    popup_fields: Sequence[tuple[str, str]] = DEFAULT_POPUP_FIELDS,
    thumbnail_field: str | None = "rgb_crop",
    base_dir: str | PathLike[str] | None = None,
    embed_thumbnails: bool = True,
    thumbnail_px: int = 260,
    imagery: Sequence[LocalTiles] = (),
) -> Any:
    """Build (and with ``path``, write) the survey map.

    Parameters
    ----------
    path : path, optional
        Write the HTML here (a self-contained file).
    defects : GeoDataFrame, optional
        Points or polygons with ``severity`` (1-5) and the popup fields; uncertainty ellipses
        are drawn from ``unc_major_m/unc_minor_m/unc_azimuth_deg`` unless ``ellipses`` given.
    routes, flight_path, footprints, gaps : GeoDataFrame, optional
        Asset lines, flight path line, frame footprints, coverage gaps.
    ellipses : GeoDataFrame, optional
        Ellipse polygons (with ``severity``), e.g. from :func:`geo.layers.ellipse_polygons`.
    basemap : "osm", a tile URL template, or None
        Background tiles (optional; the map needs no network without them).
    popup_fields : sequence of (column, label)
        Rows of each defect's popup (missing columns are skipped).
    thumbnail_field : str, optional
        Column with the evidence image path (relative to ``base_dir``).
    embed_thumbnails : bool
        Embed thumbnails as data URIs (else link to the files).
    imagery : sequence of LocalTiles
        Offline tile layers (the first is shown); the map's zoom reaches two levels past the
        finest of them.

    Returns
    -------
    folium.Map
    """
    import folium
    from branca.element import Element

    layers = {
        "defects": _to_wgs84(defects, "defects"),
        "routes": _to_wgs84(routes, "routes"),
        "flight": _to_wgs84(flight_path, "flight path"),
        "footprints": _to_wgs84(footprints, "footprints"),
        "gaps": _to_wgs84(gaps, "gaps"),
    }
    present = [g for g in layers.values() if g is not None]
    if not present:
        raise GeoValueError("nothing to map: give at least one layer")
    import shapely

    bounds = shapely.total_bounds(np.concatenate([g.geometry.values for g in present]))
    max_zoom = max([18, *(t.max_zoom + 2 for t in imagery)])
    m = folium.Map(location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2],
                   tiles=None, zoom_start=15, control_scale=True, prefer_canvas=False,
                   max_zoom=max_zoom)  # fmt: skip
    # no CDN: drop folium's default links and inline the vendored Leaflet
    m.default_js = []
    m.default_css = []
    js, css = leaflet_assets()
    root: Any = m.get_root()
    root.header.add_child(
        Element(f"<style>{css}</style>\n<style>{_LEGEND_CSS}</style>"), name="leaflet_css_inline"
    )
    root.header.add_child(Element(f"<script>{js}</script>"), name="leaflet_js_inline")
    root.title = html.escape(title)  # folium writes it into <title> as is
    for i, t in enumerate(imagery):
        w, so, e, n = t.bounds
        folium.TileLayer(
            t.url, name=t.name, attr=html.escape(t.attribution), min_zoom=t.min_zoom,
            max_zoom=max_zoom, max_native_zoom=t.max_zoom,
            bounds=[[so, w], [n, e]], show=i == 0, control=True, overlay=False,
        ).add_to(m)  # fmt: skip
    if basemap == "osm":
        folium.TileLayer(
            "OpenStreetMap", name="OpenStreetMap (online)", control=True, show=not imagery,
            max_zoom=max_zoom, max_native_zoom=19,
        ).add_to(m)  # fmt: skip
    elif basemap:
        folium.TileLayer(basemap, name="Base map", attr="base map", control=True).add_to(m)

    extra_legend: list[tuple[str, str]] = []
    if layers["footprints"] is not None:
        fg = folium.FeatureGroup("Frame footprints", show=False)
        folium.GeoJson(layers["footprints"][["geometry"]].__geo_interface__,
                       style_function=lambda _: {"color": "#555", "weight": 1, "fillOpacity": 0.05}).add_to(fg)  # fmt: skip
        fg.add_to(m)
        extra_legend.append(("Frame footprints", "#555"))
    if layers["routes"] is not None:
        fg = folium.FeatureGroup("Asset lines")
        cols = [c for c in ("route_id", "name", "chainage_label") if c in layers["routes"].columns]
        folium.GeoJson(layers["routes"][[*cols, "geometry"]].__geo_interface__,
                       style_function=lambda _: {"color": "#222", "weight": 4, "opacity": 0.8},
                       tooltip=folium.GeoJsonTooltip(cols) if cols else None).add_to(fg)  # fmt: skip
        fg.add_to(m)
        extra_legend.append(("Asset line", "#222"))
    if layers["gaps"] is not None:
        fg = folium.FeatureGroup("Coverage gaps")
        cols = [c for c in ("camera", "chainage_label", "length_m") if c in layers["gaps"].columns]
        folium.GeoJson(layers["gaps"][[*cols, "geometry"]].__geo_interface__,
                       style_function=lambda _: {"color": "#ff00ff", "weight": 6, "opacity": 0.7, "dashArray": "6 6"},
                       tooltip=folium.GeoJsonTooltip(cols) if cols else None).add_to(fg)  # fmt: skip
        fg.add_to(m)
        extra_legend.append(("Coverage gap", "#ff00ff"))
    if layers["flight"] is not None:
        fg = folium.FeatureGroup("Flight path")
        folium.GeoJson(layers["flight"][["geometry"]].__geo_interface__,
                       style_function=lambda _: {"color": "#1f78b4", "weight": 2, "dashArray": "4 4"}).add_to(fg)  # fmt: skip
        fg.add_to(m)
        extra_legend.append(("Flight path", "#1f78b4"))

    severities: list[int] = []
    d = layers["defects"]
    if d is not None:
        ell = _to_wgs84(ellipses, "ellipses") if ellipses is not None else None
        if ell is None:
            e2 = _ellipses_from_axes(defects)
            ell = _to_wgs84(e2, "ellipses") if e2 is not None else None
        if ell is not None:
            fg = folium.FeatureGroup("Uncertainty (95 %)")
            for sev, geom in zip(
                ell.get("severity", [0] * len(ell)), ell.geometry.values, strict=True
            ):
                if geom is None:
                    continue
                col = SEVERITY_COLOURS.get(int(sev) if np.isfinite(sev) else 0, _UNKNOWN)
                folium.Polygon([(y, x) for x, y in geom.exterior.coords], color=col, weight=1,
                               dash_array="3 3", fill=True, fill_opacity=0.08).add_to(fg)  # fmt: skip
            fg.add_to(m)
        bdir = Path(base_dir) if base_dir is not None else None
        sev_col = d["severity"] if "severity" in d.columns else [0] * len(d)
        groups: dict[int, Any] = {}
        rep = shapely.point_on_surface(d.geometry.values)
        for i, (sev, geom) in enumerate(zip(sev_col, d.geometry.values, strict=True)):
            s = int(sev) if sev is not None and np.isfinite(sev) else 0
            severities.append(s)
            col = SEVERITY_COLOURS.get(s, _UNKNOWN)
            if s not in groups:
                groups[s] = folium.FeatureGroup(f"Defects: severity {s}" if s else "Defects")
            row = d.iloc[i]
            cells = "".join(
                f"<tr><td>{html.escape(lab)}</td><td>{html.escape(_fmt(row[c]))}</td></tr>"
                for c, lab in popup_fields
                if c in d.columns
            )
            thumb = (
                _thumbnail(row.get(thumbnail_field), bdir, embed_thumbnails, thumbnail_px)
                if thumbnail_field
                else ""
            )
            popup = folium.Popup(
                f'<div class="survey-popup"><table>{cells}</table>{thumb}</div>', max_width=300
            )
            label = " ".join(
                _fmt(row[c]) for c in ("class_name", "chainage_label") if c in d.columns
            )
            if geom is not None and geom.geom_type in ("Polygon", "MultiPolygon"):
                folium.GeoJson(geom.__geo_interface__,
                               style_function=lambda _, c=col: {"color": c, "weight": 2, "fillOpacity": 0.35}).add_to(groups[s])  # fmt: skip
            p = rep[i]
            if p is not None and not p.is_empty:
                folium.CircleMarker([p.y, p.x], radius=7, color="#000", weight=1, fill=True,
                                    fill_color=col, fill_opacity=0.95, popup=popup,
                                    tooltip=label or None, class_name="defect-marker").add_to(groups[s])  # fmt: skip
        for s in sorted(groups, reverse=True):
            groups[s].add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    root.html.add_child(Element(_legend_html(title, severities, extra_legend)))
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    if path is not None:
        write_map(m, path)
    return m


def write_map(m: Any, path: str | PathLike[str]) -> Path:
    """Render a folium map to a self-contained HTML file; refuses CDN script/style links."""
    p = Path(path)
    if not p.parent.exists():
        raise GeoFileNotFoundError("output folder does not exist", path=p.parent)
    text = m.get_root().render()
    ext = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', text)
    if ext:
        raise GeoValueError(f"map would load assets from the internet: {ext}")
    p.write_text(text, encoding="utf-8")
    return p
