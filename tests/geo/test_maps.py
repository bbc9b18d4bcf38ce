"""The survey map: built offline, rendered in headless Chromium (Debian's), markers clickable."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo import flight_path_layer, survey_map
from geo.errors import GeoValueError
from geo.maps import leaflet_assets

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def _layers(tmp_path):
    crs = 32633
    (tmp_path / "crops").mkdir()
    img = np.zeros((120, 160, 3), np.uint8)
    img[:, :, 2] = 200  # a red crop (BGR)
    cv2.imwrite(str(tmp_path / "crops" / "D5.jpg"), img)
    pts = [shapely.Point(540000 + 30 * i, 5340000 + 7 * i) for i in range(5)]
    defects = gpd.GeoDataFrame(
        {"defect_id": [f"D{i + 1}" for i in range(5)], "class_name": ["missing_fastener"] * 5,
         "severity": [1, 2, 3, 4, 5], "confidence": [0.6, 0.7, 0.8, 0.9, 0.95],
         "chainage_label": [f"12+{300 + 30 * i:03d}.0" for i in range(5)],
         "unc_major_m": [3.0] * 5, "unc_minor_m": [1.5] * 5, "unc_azimuth_deg": [30.0] * 5,
         "rgb_crop": ["", "", "", "", "crops/D5.jpg"]},
        geometry=pts, crs=crs,
    )  # fmt: skip
    routes = gpd.GeoDataFrame({"route_id": ["110 01"], "name": ["Tullnerfelder Bahn"]}, crs=crs,
                              geometry=[shapely.LineString([(539950, 5339990), (540200, 5340040)])])  # fmt: skip
    path = flight_path_layer(
        [539950, 540075, 540200], [5339995, 5340020, 5340045], [0, 10, 20], crs
    )
    fps = gpd.GeoDataFrame(
        {"frame_id": ["a"]}, geometry=[shapely.box(539990, 5339980, 540040, 5340020)], crs=crs
    )
    gaps = gpd.GeoDataFrame({"camera": ["rgb"], "chainage_label": ["12+420.0 - 12+440.0"]}, crs=crs,
                            geometry=[shapely.LineString([(540150, 5340030), (540180, 5340036)])])  # fmt: skip
    return defects, routes, path, fps, gaps


def test_map_file_is_self_contained(tmp_path):
    defects, routes, path, fps, gaps = _layers(tmp_path)
    out = tmp_path / "map.html"
    survey_map(out, defects=defects, routes=routes, flight_path=path, footprints=fps, gaps=gaps,
               base_dir=tmp_path, basemap=None)  # fmt: skip
    text = out.read_text()
    assert "<script src=" not in text and "<link " not in text  # everything inline
    js, css = leaflet_assets()
    assert 'version="1.9.4"' in js.replace("t.version=", "version=") or "1.9.4" in js
    assert "data:image/png;base64" in css and "data:image/jpeg;base64" in text  # thumbnail
    with pytest.raises(GeoValueError, match="nothing to map"):
        survey_map(None)


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian chromium (/usr/bin/chromium) is not installed; scripts/system_deps.sh installs it",
)
def test_map_renders_offline_in_chromium(tmp_path):
    pw = pytest.importorskip(
        "playwright.sync_api", reason="Python playwright is not installed (dev extra)"
    )
    defects, routes, path, fps, gaps = _layers(tmp_path)
    out = tmp_path / "map.html"
    survey_map(out, defects=defects, routes=routes, flight_path=path, footprints=fps, gaps=gaps,
               base_dir=tmp_path, basemap="osm", title="Test survey")  # fmt: skip
    # move the map away from its thumbnails: it must not need them (embedded)
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.move(str(out), moved / "map.html")
    shutil.rmtree(tmp_path / "crops")
    requests: list[str] = []
    errors: list[str] = []
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            # no internet: every request other than the file itself and data URIs is refused
            page.route(
                "**/*",
                lambda r: (
                    r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort()
                ),
            )
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((moved / "map.html").as_uri())
            page.wait_for_selector(".leaflet-container")
            page.wait_for_function("document.querySelectorAll('path.defect-marker').length == 5")
            assert page.locator("path.defect-marker").count() == 5
            assert page.locator("#survey-legend").inner_text().count("act") >= 3
            assert page.locator(".leaflet-control-layers-overlays label").count() >= 8
            # click the severity-5 marker: its popup shows the chainage and the thumbnail
            fills = page.eval_on_selector_all(
                "path.defect-marker", "els => els.map(e => e.getAttribute('fill'))"
            )
            i5 = fills.index("#d7191c")
            page.locator("path.defect-marker").nth(i5).click(force=True)
            page.wait_for_selector(".leaflet-popup-content")
            txt = page.inner_text(".leaflet-popup-content")
            assert "12+420.0" in txt and "D5" in txt
            w = page.eval_on_selector(".leaflet-popup-content img.evidence", "e => e.naturalWidth")
            assert w == 160
            page.screenshot(path=str(tmp_path / "map.png"))
        finally:
            browser.close()
    assert errors == []
    external = [u for u in requests if not u.startswith(("file:", "data:"))]
    assert all("tile.openstreetmap.org" in u for u in external)  # only the optional base map


def test_a_hostile_title_is_escaped(tmp_path):
    """A run id such as ``</title><script>...`` reaches the page as text, never as markup."""
    defects, routes, path, fps, gaps = _layers(tmp_path)
    out = tmp_path / "map.html"
    evil = "</title><script>alert(1)</script>"
    survey_map(out, defects=defects, routes=routes, title=evil, base_dir=tmp_path, basemap=None)
    text = out.read_text()
    assert "<script>alert(1)</script>" not in text
    assert "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in text
