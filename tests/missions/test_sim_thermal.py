"""The radiometric chain (temperature + emissivity -> raw counts -> FLIR R-JPEG -> read back)
and leaks as a thermal camera sees them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from missions.sim.asset import load_asset
from missions.sim.camera import CameraModel, camera_rotation
from missions.sim.objects import SceneObject, blob_sd
from missions.sim.paint import Painter
from missions.sim.render import CameraPose, Renderer
from missions.sim.scene import build_scene
from missions.sim.sensor import ThermalSensor
from missions.sim.terrain import FlatTerrain
from missions.sim.texture import ThermalScene
from missions.sim.tiles import TileCache


def _roundtrip(
    tmp_path: Path, temp: np.ndarray, emis: np.ndarray, scene: ThermalScene
) -> np.ndarray:
    from thermal import read_thermal, write_flir_rjpeg

    s = ThermalSensor(scene, temp.shape[1], temp.shape[0], seed=1)
    raw = s.raw(temp.astype(np.float32), emis.astype(np.float32), distance_m=40.0)
    path = write_flir_rjpeg(tmp_path / "f.jpg", raw, s.file_calibration(40.0))
    return read_thermal(path).temperature_c()


def test_radiometric_roundtrip(tmp_path: Path) -> None:
    scene = ThermalScene(kind="night", air_c=-2.0, sky_c=-30.0, humidity_pct=80.0)
    temp = np.full((64, 80), 5.0)
    # emissivity equal to the camera setting (0.95): the true temperature comes back (NETD 50 mK)
    t = _roundtrip(tmp_path, temp, np.full_like(temp, 0.95), scene)
    assert np.median(t) == pytest.approx(5.0, abs=0.05)
    assert 0.005 < t.std() < 0.08
    # a polished rail head (emissivity 0.25) reflects the -30 C sky: it reads far colder
    t2 = _roundtrip(tmp_path, temp, np.full_like(temp, 0.25), scene)
    assert np.median(t2) < -15.0
    # a warmer patch reads warmer by its contrast
    hot = temp.copy()
    hot[20:40, 30:50] += 3.0
    t3 = _roundtrip(tmp_path, hot, np.full_like(temp, 0.95), scene)
    assert np.median(t3[24:36, 34:46]) - np.median(t3[:10]) == pytest.approx(3.0, abs=0.1)


@pytest.mark.parametrize("delta_t", [1.5, 6.0])
def test_leak_contrast_seen_from_60_m(tmp_path: Path, delta_t: float) -> None:
    """A 3 m leak plume of peak dT over a buried pipe at night: the thermal camera at 60 m reads
    about dT at its centre above the surroundings (the truth polygon is the half-max contour)."""
    from thermal import read_thermal, write_flir_rjpeg

    asset = load_asset("rail", start_m=1000.0, length_m=200.0, margin_m=60.0)
    th = ThermalScene(kind="night", air_c=-2.0, sky_c=-30.0, humidity_pct=80.0)
    sc = build_scene(
        asset, FlatTerrain(265.0), seed=5, flown_s=(60.0, 260.0), density=0.0, thermal=th
    )
    rng = np.random.default_rng(0)
    s0, d0 = 160.0, 12.0  # on the verge beside the track, over mown grass
    poly = blob_sd(s0, d0, 3.0, rng)
    leak = SceneObject.make(
        asset.corridor,
        77,
        "leak_candidate",
        "plume",
        poly,
        4,
        delta_t_k=delta_t,
        c_s=s0,
        c_d=d0,
        reach_m=10.0,
    )
    sc.objects.append(leak)
    cam = CameraModel.preset("thermal-640")
    tiles = TileCache(Painter(sc), paint_layers=frozenset({"temp", "emis"}))
    r = Renderer(cam, sc.terrain, asset.grid, tiles, band="thermal")
    c = asset.corridor.to_world(s0, d0)
    pose = CameraPose(float(c[0]), float(c[1]), 265.0 + 60.0, camera_rotation(0.0, -90.0, 0.0))
    out = r.render(pose)
    sensor = ThermalSensor(th, cam.width_px, cam.height_px, seed=2)
    raw = sensor.raw(out.temp_c, out.emissivity, 60.0)
    t = read_thermal(
        write_flir_rjpeg(tmp_path / "leak.jpg", raw, sensor.file_calibration(60.0))
    ).temperature_c()
    # centre pixel by projection of the leak centre (nadir: the principal point)
    u, v = int(round(cam.cx_px)), int(round(cam.cy_px))
    centre = float(np.median(t[v - 2 : v + 3, u - 2 : u + 3]))
    yy, xx = np.mgrid[0 : t.shape[0], 0 : t.shape[1]]
    r_px = np.hypot(xx - cam.cx_px, yy - cam.cy_px) * (60.0 / cam.fx_px)  # metres on the ground
    ring = (r_px > 14.0) & (r_px < 18.0)  # beyond the plume (3 x radius x elongation)
    background = float(np.median(t[ring]))
    assert centre - background == pytest.approx(delta_t, rel=0.15, abs=0.25)
