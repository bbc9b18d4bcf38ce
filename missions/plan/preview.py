"""Previews of a plan: GeoDataFrames (asset, passes, sortie paths, swaths, waypoints, chainage
ticks, no-fly zones), written as one GeoJSON and one KML, and drawn on the runs' folium map
(:func:`geo.maps.survey_map`) with the passes coloured by sortie."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from missions.plan.planner import CorridorPlan

__all__ = ["plan_layers", "write_map", "write_previews"]

_COLOURS = ("#e31a1c", "#1f78b4", "#33a02c", "#ff7f00", "#6a3d9a", "#b15928")


def plan_layers(plan: CorridorPlan, tick_m: float = 100.0) -> dict[str, Any]:
    """Named GeoDataFrames (in the plan's frame) of everything the plan contains."""
    import geopandas as gpd
    import shapely
    import shapely.ops

    from geo.chainage import format_km

    crs = plan.frame.crs
    r = plan.route
    d0, d1 = r.distance_of(plan.from_m), r.distance_of(plan.to_m)
    asset = gpd.GeoDataFrame(
        {"layer": ["asset"], "name": [r.name or r.route_id],
         "label": [f"{format_km(plan.from_m)} - {format_km(plan.to_m)}"]},
        geometry=[shapely.ops.substring(r.line, d0, d1)], crs=crs,
    )  # fmt: skip
    rows: dict[str, list[Any]] = {k: [] for k in ("layer", "sortie", "pass_", "label", "geometry")}

    def add(layer: str, sortie: int, pas: int, label: str, geom: Any) -> None:
        for k, v in zip(rows, (layer, sortie, pas, label, geom), strict=True):
            rows[k].append(v)

    for s in plan.sorties:
        add("sortie", s.index, 0,
            f"sortie {s.index}: {format_km(s.from_m)} - {format_km(s.to_m)}, "
            f"{s.flight_s / 60:.1f} min, battery {100 * s.battery:.0f} %",
            shapely.LineString(np.column_stack([s.path.x_m, s.path.y_m])))  # fmt: skip
        add("home", s.index, 0, f"home of sortie {s.index}", shapely.Point(*s.home_xy))
        for p in s.passes:
            line = shapely.LineString(np.column_stack([p.x_m, p.y_m]))
            add("pass", s.index, p.index,
                f"sortie {s.index} pass {p.index}: offset {p.offset_m:+.1f} m, "
                f"{len(p.x_m)} waypoints", line)  # fmt: skip
            add("swath", s.index, p.index, f"swath {plan.swath_m:.1f} m",
                shapely.buffer(line, plan.swath_m / 2, cap_style="flat"))  # fmt: skip
            for i in range(len(p.x_m)):
                add("waypoint", s.index, p.index,
                    f"S{s.index} P{p.index} WP{i + 1} {format_km(float(p.chainage_m[i]))} "
                    f"alt {p.alt_m[i]:.1f} m", shapely.Point(p.x_m[i], p.y_m[i]))  # fmt: skip
    m = np.arange(np.ceil(plan.from_m / tick_m) * tick_m, plan.to_m + 1e-6, tick_m)
    for v in m:
        x, y = r.point_at(float(v), 0.0)
        add("chainage", 0, 0, format_km(float(v), 0), shapely.Point(x, y))
    parts = gpd.GeoDataFrame(
        {"layer": rows["layer"], "sortie": rows["sortie"], "pass": rows["pass_"],
         "label": rows["label"]}, geometry=rows["geometry"], crs=crs,
    )  # fmt: skip
    out = {"asset": asset, "plan": parts}
    if plan.request.nofly:
        z = gpd.read_file(plan.request.nofly)
        if z.crs is None:
            z = z.set_crs(4326)
        z = z.to_crs(crs)
        z["layer"] = "nofly"
        z["label"] = z["name"].astype(str) if "name" in z.columns else "no-fly zone"
        out["nofly"] = z[["layer", "label", "geometry"]]
    return out


def write_previews(plan: CorridorPlan, out_dir: str | Path) -> list[Path]:
    """``plan.geojson`` and ``plan.kml``: every layer in one file, with a ``layer`` column."""
    import geopandas as gpd
    import pandas as pd

    from geo.export import export_layers

    out = Path(out_dir)
    layers = plan_layers(plan)
    allg = gpd.GeoDataFrame(pd.concat(list(layers.values()), ignore_index=True), crs=plan.frame.crs)
    allg = allg[["layer", "label", "geometry"]]
    written = export_layers({"plan": (allg, None)}, out / "plan.geojson", "geojson")
    written += export_layers({"plan": (allg, None)}, out / "plan.kml", "kml", name_field="label")
    return written


def write_map(plan: CorridorPlan, path: str | Path, basemap: str | None = "osm") -> Path:
    """The plan on the runs' map: asset, passes by sortie, swaths, sortie paths, waypoints,
    chainage ticks, homes and no-fly zones."""
    import folium

    from geo.maps import survey_map
    from geo.maps import write_map as _write

    layers = plan_layers(plan)
    parts = layers["plan"]
    m = survey_map(
        None,
        routes=layers["asset"].rename(columns={"label": "chainage_label"}),
        flight_path=parts[parts.layer == "sortie"],
        footprints=parts[parts.layer == "swath"],
        title=f"Plan: {plan.route.name or plan.route.route_id}",
        basemap=basemap,
    )
    wgs = parts.to_crs(4326)
    for s in plan.sorties:
        col = _COLOURS[(s.index - 1) % len(_COLOURS)]
        fg = folium.FeatureGroup(f"Sortie {s.index}")
        sel = wgs[(wgs.sortie == s.index) & (wgs.layer == "pass")]
        folium.GeoJson(sel[["label", "geometry"]].__geo_interface__,
                       style_function=lambda _, c=col: {"color": c, "weight": 3},
                       tooltip=folium.GeoJsonTooltip(["label"])).add_to(fg)  # fmt: skip
        for _, row in wgs[(wgs.sortie == s.index) & (wgs.layer == "waypoint")].iterrows():
            folium.CircleMarker([row.geometry.y, row.geometry.x], radius=3, color=col,
                                fill=True, tooltip=row.label).add_to(fg)  # fmt: skip
        for _, row in wgs[(wgs.sortie == s.index) & (wgs.layer == "home")].iterrows():
            folium.CircleMarker([row.geometry.y, row.geometry.x], radius=7, color="#000",
                                weight=2, fill=True, fill_color="#fff", fill_opacity=1.0,
                                tooltip=row.label).add_to(fg)  # fmt: skip
        fg.add_to(m)
    fg = folium.FeatureGroup("Chainage")
    for _, row in wgs[wgs.layer == "chainage"].iterrows():
        folium.CircleMarker([row.geometry.y, row.geometry.x], radius=2, color="#000",
                            tooltip=row.label).add_to(fg)  # fmt: skip
    fg.add_to(m)
    if "nofly" in layers:
        fg = folium.FeatureGroup("No-fly zones")
        z = layers["nofly"].to_crs(4326)
        folium.GeoJson(z[["label", "geometry"]].__geo_interface__,
                       style_function=lambda _: {"color": "#b00", "fillOpacity": 0.3},
                       tooltip=folium.GeoJsonTooltip(["label"])).add_to(fg)  # fmt: skip
        fg.add_to(m)
    # survey_map added its layer control before these groups: move it last so that its
    # script runs after every group it lists exists
    for key, child in list(m._children.items()):
        if isinstance(child, folium.LayerControl):
            del m._children[key]
    folium.LayerControl(collapsed=False).add_to(m)
    b = wgs.total_bounds
    m.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    return _write(m, path)
