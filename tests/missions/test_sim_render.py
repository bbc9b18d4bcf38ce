"""Rendering: a marker painted into the texture appears exactly where an independent forward
projection of its ground outline puts it; tiles are seamless; levels agree."""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np
import pyproj
import pytest

from missions.sim.asset import load_asset
from missions.sim.camera import CameraModel, camera_rotation
from missions.sim.masks import project_instances
from missions.sim.objects import SceneObject, rect_sd
from missions.sim.paint import Painter
from missions.sim.render import CameraPose, Renderer
from missions.sim.scene import build_scene
from missions.sim.terrain import HillyTerrain
from missions.sim.tiles import TileCache


def _grid_from_ned(epsg: int, x: float, y: float) -> np.ndarray:
    """NED -> grid matrix from pyproj's convergence and scale (independent of the simulator)."""
    lon, lat = pyproj.Transformer.from_crs(epsg, 4326, always_xy=True).transform(x, y)
    f = pyproj.Proj(f"EPSG:{epsg}").get_factors(lon, lat)
    b, k = math.radians(-f.meridian_convergence), f.meridional_scale
    return np.array(
        [
            [k * math.sin(b), k * math.cos(b), 0],
            [k * math.cos(b), -k * math.sin(b), 0],
            [0, 0, -1.0],
        ]
    )


def project_ground_polygon(
    cam: CameraModel, pose: CameraPose, epsg: int, xyz: np.ndarray
) -> np.ndarray:
    """Pixels of 3-D grid points (x, y, MSL) seen from ``pose`` (forward projection)."""
    M = _grid_from_ned(epsg, pose.x_m, pose.y_m)
    ned = np.linalg.solve(M, (xyz - [pose.x_m, pose.y_m, pose.z_msl_m]).T).T
    return cam.project(ned @ pose.R_ned_from_cam)


def _mask_of(poly_px: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centre lies inside the projected outline."""
    from skimage.draw import polygon

    img = np.zeros(shape, bool)
    rr, cc = polygon(poly_px[:, 1], poly_px[:, 0], shape)
    img[rr, cc] = True
    return img


@pytest.fixture(scope="module")
def marker_scene():
    asset = load_asset("rail", start_m=1500.0, length_m=120.0, margin_m=60.0)
    terrain = HillyTerrain(265.0, 30.0, 400.0, seed=3, origin_xy=tuple(asset.corridor.xy[0]))
    scene = build_scene(asset, terrain, seed=3, flown_s=(60.0, 180.0), density=0.0)
    s0, d0 = 120.0, 6.0  # on the verge, left of the track
    poly = rect_sd(s0, d0, 1.2, 0.9, step=0.05)
    scene.objects.append(
        SceneObject.make(asset.corridor, 900, "obstruction", "box", poly, 4, height_m=0.0)
    )
    return scene


VIEWS = [
    (-90.0, 0.0, 0.0, 25.0, "rgb-video-720"),
    (-50.0, 35.0, 3.0, 30.0, "rgb-video-720"),
    (-65.0, -120.0, -2.0, 40.0, "thermal-640"),
]


def _view(sc, pitch: float, yaw_off: float, roll: float, alt: float) -> CameraPose:
    """A pose looking at the marker (a little off the optical axis)."""
    obj = sc.objects[-1]
    c = obj.polygon_xy.mean(axis=0)
    az = float(sc.asset.corridor.azimuth_deg(obj.s_m)) + yaw_off
    back = alt / math.tan(math.radians(-pitch)) if pitch > -89 else 0.0
    x = c[0] - back * math.sin(math.radians(az)) + 0.4
    y = c[1] - back * math.cos(math.radians(az)) - 0.3
    beta = float(sc.asset.grid.convergence_deg(x, y))
    z = float(sc.terrain.height(x, y)) + alt
    return CameraPose(x, y, z, camera_rotation(az - beta, pitch, roll))


@pytest.mark.parametrize(
    "oversample,base_res,max_err_px,min_iou", [(4.0, 0.0025, 0.15, 0.97), (1.0, 0.01, 0.45, 0.9)]
)
@pytest.mark.parametrize("pitch,yaw_off,roll,alt,cam_name", VIEWS)
def test_marker_lands_where_the_projection_says(
    marker_scene,
    pitch,
    yaw_off,
    roll,
    alt,
    cam_name,
    oversample,
    base_res,
    max_err_px,
    min_iou,
) -> None:
    """Render path (rays -> terrain -> texture) vs forward projection of the ground outline.

    With texels a quarter of the ground sample distance the two agree to 0.15 px; with the
    default texels (about one GSD) the texture's own quantisation (half a texel) remains.
    """
    sc = marker_scene
    obj = sc.objects[-1]
    full = CameraModel.preset(cam_name)
    # a 320x256 window of the sensor (same lens and distortion), to keep the painting small
    cam = replace(
        full,
        width_px=320,
        height_px=256,
        cx_px=full.cx_px - (full.width_px - 320) / 2,
        cy_px=full.cy_px - (full.height_px - 256) / 2,
    )
    tiles = TileCache(Painter(sc), base_res_m=base_res, paint_layers=frozenset({"rgb", "ids_rgb"}))
    r = Renderer(cam, sc.terrain, sc.asset.grid, tiles, band="rgb", oversample=oversample)
    pose = _view(sc, pitch, yaw_off, roll, alt)
    res = r.render(pose, ids=True)
    rendered = res.ids == obj.id
    assert rendered.sum() > 200, "the marker is not in view"
    xyz = np.column_stack(
        [obj.polygon_xy, sc.terrain.height(obj.polygon_xy[:, 0], obj.polygon_xy[:, 1])]
    )
    px = project_ground_polygon(cam, pose, sc.asset.grid.epsg, xyz)
    projected = _mask_of(px, rendered.shape)
    iou = (rendered & projected).sum() / (rendered | projected).sum()
    cy_r, cx_r = np.argwhere(rendered).mean(axis=0)
    cy_p, cx_p = np.argwhere(projected).mean(axis=0)
    assert iou > min_iou
    assert math.hypot(cx_r - cx_p, cy_r - cy_p) < max_err_px
    # the colour image shows the light-orange box there: redder than the grass around it
    k = np.ones((5, 5), np.uint8)
    core = cv2.erode(rendered.astype(np.uint8), k).astype(bool)
    ring = cv2.dilate(rendered.astype(np.uint8), k, iterations=3).astype(bool) & ~cv2.dilate(
        rendered.astype(np.uint8), k
    ).astype(bool)
    assert res.image[core][:, 2].mean() > res.image[ring][:, 2].mean() + 40
    # the COCO mask of the simulator (missions.sim.masks) is the projected outline exactly
    found = project_instances(cam, pose, sc.asset.grid, sc.terrain, [obj], "rgb")
    assert len(found) == 1 and found[0][1]["area"] == int(projected.sum())


def test_tiles_are_seamless(marker_scene) -> None:
    """Four 256-texel tiles equal one 512-texel tile painted directly (world-anchored)."""
    sc = marker_scene
    p = Painter(sc)
    c = sc.asset.corridor.to_world(100.0, 1.0)
    res = 0.02
    x0, yt = math.floor(c[0]) - 5.12, math.floor(c[1]) + 5.12
    big = p.paint(x0, yt, res, 512, rgb=True, thermal=True, ids=True)
    for i in range(2):
        for j in range(2):
            t = p.paint(x0 + j * 5.12, yt - i * 5.12, res, 256, rgb=True, thermal=True, ids=True)
            sl = (slice(i * 256, (i + 1) * 256), slice(j * 256, (j + 1) * 256))
            d = np.abs(t.rgb.astype(int) - big.rgb[sl].astype(int))
            assert d.mean() < 1.0 and np.percentile(d, 99.5) <= 12
            assert np.abs(t.temp - big.temp[sl]).mean() < 0.05
            assert (t.ids_rgb != big.ids_rgb[sl]).mean() < 0.001


def test_levels_agree(marker_scene) -> None:
    """A coarse level is (about) the box-filtered fine level: same mean colour, same temperature."""
    sc = marker_scene
    p = Painter(sc)
    c = sc.asset.corridor.to_world(100.0, 0.0)
    x0, yt = math.floor(c[0]) - 5.12, math.floor(c[1]) + 5.12
    fine = p.paint(x0, yt, 0.02, 512, rgb=True, thermal=True, ids=False)
    coarse = p.paint(x0, yt, 0.08, 128, rgb=True, thermal=True, ids=False)
    down = cv2.resize(fine.rgb.astype(np.float32), (128, 128), interpolation=cv2.INTER_AREA)
    assert np.abs(down - coarse.rgb).mean() < 8.0
    tdown = cv2.resize(fine.temp, (128, 128), interpolation=cv2.INTER_AREA)
    assert np.abs(tdown - coarse.temp).mean() < 0.6


def test_horizon_view_uses_coarser_levels_far_away(marker_scene) -> None:
    """Pitch -8 deg: the upper rows see the sky, the far field samples coarse levels, so the
    number of painted tiles stays small."""
    from missions.sim.render import SKY_BGR

    sc = marker_scene
    cam = CameraModel.preset("rgb-video-720").scaled(320, 180)
    tiles = TileCache(Painter(sc), paint_layers=frozenset({"rgb"}))
    r = Renderer(cam, sc.terrain, sc.asset.grid, tiles, band="rgb")
    c = sc.asset.corridor.to_world(100.0, 0.0)
    z = float(sc.terrain.height(c[0], c[1])) + 30.0
    res = r.render(CameraPose(float(c[0]), float(c[1]), z, camera_rotation(40.0, -8.0, 0.0)))
    assert res.image is not None
    top, bottom = res.image[:5], res.image[-5:]
    assert (top == SKY_BGR).all(axis=-1).mean() > 0.9
    assert (bottom == SKY_BGR).all(axis=-1).mean() == 0.0
    assert tiles.painted < 120
    assert len({k[0] for k in tiles._mosaics}) >= 2  # several levels in one frame
