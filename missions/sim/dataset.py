"""A COCO instance-segmentation training set of rendered frames (``survey simulate --dataset N``).

Frames come from several seeded scenes (rail and pipeline, different seeds, sun positions and
pipe styles) with dense defects. Most frames are aimed at a random defect (so every class gets
examples), the rest at random places along the corridor (background and look-alikes); height,
gimbal pitch, heading and the position in the frame vary. Layout::

    images/<NNNNNN>.jpg     RGB frames (band rgb), or FLIR radiometric JPEGs (band thermal)
    annotations.json        COCO: categories (fixed ids, see missions.sim.classes), images (with
                            scene, pose and GSD), annotations (RLE masks, bbox, area,
                            instance_id, severity, variant); instances under ``min_pixels``
                            pixels are dropped
    dataset.json            how it was made (seed, scenes, counts per class)
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from missions.errors import GeometryError, SimInputNotFoundError, SimulationError
from missions.sim.asset import Asset, load_asset
from missions.sim.camera import CameraModel, camera_rotation
from missions.sim.classes import CLASSES, categories
from missions.sim.formats.coco import CocoWriter
from missions.sim.masks import project_instances
from missions.sim.paint import Painter
from missions.sim.render import CameraPose, Renderer
from missions.sim.scene import Scene, build_scene
from missions.sim.sensor import RgbSensor, ThermalSensor
from missions.sim.terrain import FlatTerrain, HillyTerrain
from missions.sim.texture import ThermalScene
from missions.sim.tiles import TileCache

__all__ = ["DatasetSpec", "make_dataset"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetSpec:
    """What to render."""

    n_images: int
    seed: int = 0
    band: str = "rgb"
    width_px: int = 1024
    height_px: int = 768
    assets: tuple[str, ...] = ("rail", "pipeline")
    density: float = 6.0
    aimed_fraction: float = 0.85
    min_pixels: int = 12
    jpeg_quality: int = 92
    geometry: str = ""


def _synthetic_line(path: Path, seed: int) -> Path:
    """A 3 km gently curving line near St. Poelten (when no pipeline geometry is at hand)."""
    rng = np.random.default_rng([seed, 0x11E])
    t = np.linspace(0, 1, 300)
    lon = 15.55 + 0.035 * t + 0.002 * np.sin(2 * np.pi * (t * rng.uniform(0.8, 1.5)))
    lat = 48.15 + 0.012 * t + 0.003 * np.sin(2 * np.pi * (t * rng.uniform(0.5, 1.2) + 0.3))
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "synthetic"},
                "geometry": {
                    "type": "LineString",
                    "coordinates": np.column_stack([lon, lat]).tolist(),
                },
            }
        ],
    }
    path.write_text(json.dumps(fc), encoding="utf-8")
    return path


def _scenes(spec: DatasetSpec, tmp: Path) -> list[Scene]:
    scenes: list[Scene] = []
    rng = np.random.default_rng([spec.seed, 0xDA7A])
    for k, kind in enumerate(spec.assets):
        for j in range(2):
            seed = spec.seed * 100 + k * 10 + j
            geom: str | None = spec.geometry or None
            if kind == "pipeline" and geom is None:
                try:
                    from missions.sim.asset import default_geometry

                    geom = str(default_geometry("pipeline"))
                except SimInputNotFoundError:
                    geom = str(_synthetic_line(tmp / f"line_{seed}.geojson", seed))
            start = (
                float(rng.uniform(100, 1500)) if kind == "rail" else float(rng.uniform(500, 2500))
            )
            try:
                asset = load_asset(kind, geom, start_m=start, length_m=300.0, margin_m=80.0)  # type: ignore[arg-type]
            except GeometryError:
                start = 0.0
                asset = load_asset(kind, geom, start_m=start, length_m=300.0, margin_m=80.0)  # type: ignore[arg-type]
            flown = (start - asset.chainage_start_m, start - asset.chainage_start_m + 300.0)
            terrain = (
                HillyTerrain(265.0, 15.0, 600.0, seed, tuple(asset.corridor.xy[0]))
                if j
                else FlatTerrain(265.0)
            )
            th = (
                ThermalScene(kind="night", air_c=-2.0, sky_c=-30.0)
                if (kind == "pipeline" and spec.band == "thermal")
                else ThermalScene(
                    kind="day",
                    sun_azimuth_deg=float(rng.uniform(90, 270)),
                    sun_elevation_deg=float(rng.uniform(25, 60)),
                )
            )
            scenes.append(
                build_scene(
                    asset,
                    terrain,
                    seed=seed,
                    flown_s=(float(flown[0]), float(flown[1])),
                    density=spec.density,
                    thermal=th,
                    pipe_style="above" if j == 0 else "buried",
                )
            )
    return scenes


def _pose(
    scene: Scene, rng: np.random.Generator, spec: DatasetSpec, cam: CameraModel
) -> tuple[CameraPose, dict[str, float]]:
    asset: Asset = scene.asset
    band_objs = [o for o in scene.objects if spec.band in o.bands]
    a, b = scene.flown_s
    if band_objs and rng.random() < spec.aimed_fraction:
        o = band_objs[int(rng.integers(len(band_objs)))]
        s0, d0 = o.s_m, o.d_m
    else:
        s0, d0 = float(rng.uniform(a + 10, b - 10)), float(rng.uniform(-6, 6))
    if asset.kind == "rail" and spec.band == "rgb":
        alt = float(rng.uniform(8.0, 30.0))
    else:
        alt = float(rng.uniform(15.0, 70.0))
    pitch = float(rng.choice([-90.0, rng.uniform(-90.0, -55.0)]))
    az_grid = (
        float(asset.corridor.azimuth_deg(s0))
        + float(rng.choice([0.0, 180.0]))
        + float(rng.normal(0, 8))
    )
    c = asset.corridor.to_world(s0, d0)
    beta = float(asset.grid.convergence_deg(c[0], c[1]))
    yaw = az_grid - beta
    # put the target somewhere in the frame: shift the camera back along the look direction
    back = alt / math.tan(math.radians(-pitch)) if pitch > -89.9 else 0.0
    jitter = rng.normal(0, alt * 0.25, 2)
    dx = -back * math.sin(math.radians(az_grid)) + jitter[0]
    dy = -back * math.cos(math.radians(az_grid)) + jitter[1]
    ground = float(scene.terrain.height(c[0] + dx, c[1] + dy))
    R = camera_rotation(yaw, pitch, float(rng.normal(0, 1.0)))
    pose = CameraPose(float(c[0] + dx), float(c[1] + dy), ground + alt, R)
    return pose, {"altitude_agl_m": alt, "gimbal_pitch_deg": pitch, "yaw_deg": yaw}


def make_dataset(spec: DatasetSpec, out: str | Path, *, progress: bool = False) -> dict[str, Any]:
    """Render ``spec.n_images`` annotated frames into ``out``; returns a summary."""
    if spec.n_images < 1:
        raise SimulationError(f"the dataset needs at least 1 image, got {spec.n_images}")
    if spec.band not in ("rgb", "thermal"):
        raise SimulationError(f"band must be rgb or thermal, got {spec.band!r}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise SimulationError("the output folder is not empty", path=out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([spec.seed, 0xD5])
    with tempfile.TemporaryDirectory() as td:
        scenes = _scenes(spec, Path(td))
    base = (
        CameraModel.preset("rgb-still") if spec.band == "rgb" else CameraModel.preset("thermal-640")
    )
    cam = base.scaled(spec.width_px, spec.height_px) if spec.band == "rgb" else base
    layers = frozenset({"rgb"} if spec.band == "rgb" else {"temp", "emis"})
    tools = []
    for sc in scenes:
        tiles = TileCache(Painter(sc), max_bytes=256 * 2**20, paint_layers=layers)
        tools.append(Renderer(cam, sc.terrain, sc.asset.grid, tiles, band=spec.band))
    coco = CocoWriter(
        out / "annotations.json",
        categories(spec.band),
        {
            "description": "railpipe-survey simulated training set",
            "seed": spec.seed,
            "band": spec.band,
        },
    )
    rgb_sensor = RgbSensor(cam.width_px, cam.height_px, spec.seed)
    per_class: dict[str, int] = {}
    bar: Any = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=spec.n_images, unit="image", desc="dataset")
    for i in range(spec.n_images):
        k = int(rng.integers(len(scenes)))
        sc, rend = scenes[k], tools[k]
        pose, meta = _pose(sc, rng, spec, cam)
        r = rend.render(pose)
        name = f"images/{i + 1:06d}.jpg"
        if spec.band == "rgb":
            import cv2

            img = rgb_sensor.apply(
                r.image
                if r.image is not None
                else np.zeros((cam.height_px, cam.width_px, 3), np.uint8)
            )
            cv2.imwrite(str(out / name), img, [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg_quality])
        else:
            from thermal import write_flir_rjpeg

            sensor = ThermalSensor(sc.thermal, cam.width_px, cam.height_px, spec.seed + i)
            raw = sensor.raw(r.temp_c, r.emissivity, meta["altitude_agl_m"])  # type: ignore[arg-type]
            write_flir_rjpeg(out / name, raw, sensor.file_calibration(meta["altitude_agl_m"]))
        img_id = coco.add_image(
            name,
            cam.width_px,
            cam.height_px,
            scene=k,
            asset=sc.asset.kind,
            gsd_m=round(r.gsd_m, 5),
            **{kk: round(v, 3) for kk, v in meta.items()},
        )
        found = project_instances(
            cam, pose, sc.asset.grid, sc.terrain, sc.objects, spec.band, r.ground_xy[r.ground_hit]
        )
        for o, inst in found:
            if inst["area"] < spec.min_pixels:
                continue
            coco.add_annotation(
                img_id,
                CLASSES[o.cls].id,
                inst,
                instance_id=o.id,
                severity=o.severity,
                variant=o.variant,
            )
            per_class[o.cls] = per_class.get(o.cls, 0) + 1
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    coco.close()
    summary = {
        "images": spec.n_images,
        "annotations": coco.n_annotations,
        "per_class": dict(sorted(per_class.items())),
        "band": spec.band,
        "seed": spec.seed,
        "size": [cam.width_px, cam.height_px],
        "scenes": [
            {
                "asset": s.asset.kind,
                "name": s.asset.name,
                "seed": s.seed,
                "pipe_style": s.pipe.style,
                "terrain": s.terrain.describe(),
            }
            for s in scenes
        ],
    }
    (out / "dataset.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary
