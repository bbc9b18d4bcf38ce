"""geo's geolocation and 95 % ellipses against the flight simulator's exact ground truth.

The simulator (missions.sim) implements the shared conventions independently of geo. Two
checks:

* Many short simulated flights (trajectory, rig and the realistic error model of the
  simulator; no rendering): random pixels are cast with the simulator's own camera and terrain
  from the *true* camera pose; geo locates the same pixels from the *logged* pose (what the
  photo XMP / flight log says) and must put the truth inside its 95 % ellipse for >= 93 % of
  the sightings, with ellipses not uselessly large. The errors within one flight are strongly
  correlated (one compass yaw bias, a 60 s GNSS random walk), so the statistic is over many
  flights (seeds).
* One rendered flight read back from its files: camera model from the stills' EXIF/XMP,
  logged pose from the XMP, defects from the COCO masks, truth from truth/defects.gpkg.
"""

from __future__ import annotations

import numpy as np
import pytest

from geo import (
    Boresight,
    CameraModel,
    CameraPoses,
    Dem,
    FlatGround,
    Georeferencer,
    LocalFrame,
    PoseErrorModel,
    camera_from_tags,
    locate_with_uncertainty,
    mahalanobis2,
    read_image_tags,
)
from missions.sim.asset import load_asset
from missions.sim.camera import CameraModel as SimCamera
from missions.sim.config import SimConfig
from missions.sim.errormodel import ErrorModel, realize
from missions.sim.flight import FlightPlan, plan_trajectory
from missions.sim.rig import Rig, camera_poses
from missions.sim.simulate import make_terrain
from missions.sim.streams import still_times

RIG = Rig()
BORESIGHT = Boresight(*RIG.rgb.boresight_ypr_deg, lever_arm_m=RIG.rgb.offset_m,
                      body_lever_arm_m=RIG.gimbal_lever_m)  # fmt: skip


def _errors_for(
    realized: dict, gnss_ok: np.ndarray, since_fix_s: np.ndarray, rtk: bool
) -> PoseErrorModel:
    """The 1-sigma errors a pipeline would assume for this receiver and gimbal (the
    simulator's documented model: GNSS random walk per axis h/sqrt(2), baro bias 0.8 m, compass
    yaw bias 1.5 deg standard / 0.5 deg RTK, gimbal noise 0.05 deg), inflated by the
    dead-reckoning drift (0.3 m/s per axis) while the receiver reports no fix."""
    h = np.hypot(realized["gnss_h_sigma_m"] / np.sqrt(2), realized["gnss_white_m"])
    drift = np.where(gnss_ok, 0.0, 0.3 * since_fix_s)
    return PoseErrorModel(
        horizontal_m=np.hypot(h, drift), vertical_m=np.hypot(0.8, np.where(gnss_ok, 0.0, 0.0)),
        yaw_deg=0.5 if rtk else 1.5, pitch_deg=0.1, roll_deg=0.1, ground_m=0.05, pixel_px=0.5,
    )  # fmt: skip


def _flight(seed: int, *, pitch: float, terrain: str, gnss: str, agl: float, n_pix: int):
    cfg = SimConfig(asset="rail", start_m=300.0 + 70.0 * (seed % 50), length_m=60.0, seed=seed,
                    altitude_agl_m=agl, gimbal_pitch_deg=pitch, terrain=terrain, gnss=gnss,
                    video="", thermal_every_s=0.0).resolved()  # fmt: skip
    asset = load_asset(cfg.asset, None, start_m=cfg.start_m, length_m=cfg.length_m,
                       margin_m=max(80.0, 3.0 * agl))  # fmt: skip
    ter = make_terrain(cfg, asset)
    plan = FlightPlan(altitude_agl_m=agl, speed_m_s=4.0, gimbal_pitch_deg=pitch, wind_m_s=3.0)
    flown = (
        cfg.start_m - asset.chainage_start_m,
        cfg.start_m + cfg.length_m - asset.chainage_start_m,
    )
    t0 = 1_718_184_600.0
    traj = plan_trajectory(asset, ter, plan, flown, t0, seed)
    home = float(ter.height(traj.knots.x_m[0], traj.knots.y_m[0]))
    nav = realize(ErrorModel(gnss=gnss), traj, asset.grid, home, seed)
    times = still_times(traj, 6.0)
    true = traj.sample(times)
    cams = camera_poses(true, RIG.rgb, RIG, asset.grid)
    sim_cam = SimCamera.preset("rgb-still").scaled(800, 600)
    rng = np.random.default_rng(seed)
    m = len(times)
    idx = np.repeat(np.arange(m), n_pix)
    u = rng.uniform(0, 799, idx.size)
    v = rng.uniform(0, 599, idx.size)
    # truth: the simulator's own rays and terrain from the true camera
    d_ned = np.einsum("nij,nj->ni", cams.R_ned_from_cam[idx], sim_cam.rays(u, v))
    M = np.stack(
        [
            asset.grid.grid_from_ned(float(x), float(y))
            for x, y in zip(cams.x_m, cams.y_m, strict=True)
        ]
    )
    d_grid = np.einsum("nij,nj->ni", M[idx], d_ned)
    pts = np.empty((idx.size, 3))
    hit = np.zeros(idx.size, bool)
    for k in range(m):  # the simulator's terrain casts rays from one origin at a time
        sel = idx == k
        origin = np.array([cams.x_m[k], cams.y_m[k], cams.alt_msl_m[k]])
        pts[sel], hit[sel] = ter.intersect(origin, d_grid[sel])
    # what the logs say
    lg = nav.at(times)
    outages = nav.errors.gnss_outages_utc_s
    since = np.zeros(m)
    for a, b in outages:
        inside = (times >= a) & (times <= b)
        since[inside] = times[inside] - a
    ok_fix = lg["gnss_ok"] > 0.5
    poses = CameraPoses(
        lg["lat_deg"], lg["lon_deg"], lg["rel_alt_m"], "takeoff", lg["gimbal_yaw_deg"],
        lg["gimbal_pitch_deg"], lg["gimbal_roll_deg"], vehicle_yaw_deg=lg["yaw_deg"],
        vehicle_pitch_deg=lg["pitch_deg"], vehicle_roll_deg=lg["roll_deg"],
        takeoff_alt_m=home, takeoff_ref="msl",
    )  # fmt: skip
    frame = LocalFrame(asset.grid.epsg)
    if terrain == "flat":
        ground = FlatGround(home, "msl")
    else:
        x0, y0 = cams.x_m.mean(), cams.y_m.mean()
        xs = x0 - 400 + np.arange(800) + 0.5
        ys = y0 + 400 - np.arange(800) - 0.5
        xx, yy = np.meshgrid(xs, ys)
        ground = Dem(ter.height(xx, yy), x0 - 400, y0 + 400, 1.0, 1.0, frame.crs, "msl")
    geo_cam = CameraModel(800, 600, sim_cam.fx_px, sim_cam.fy_px, sim_cam.cx_px, sim_cam.cy_px,
                          sim_cam.k1, sim_cam.k2, sim_cam.p1, sim_cam.p2, sim_cam.k3)  # fmt: skip
    g = Georeferencer(geo_cam, ground, frame=frame, boresight=BORESIGHT)
    err = _errors_for(nav.errors.to_dict(), ok_fix, since, gnss == "rtk")
    vel = np.stack([lg["vn_m_s"], lg["ve_m_s"], lg["vd_m_s"]], -1)
    lp = locate_with_uncertainty(g, poses, u, v, idx, errors=err, velocity_ned_mps=vel)
    good = hit & lp.points.ok
    d2 = mahalanobis2(lp.points.x_m - pts[:, 0], lp.points.y_m - pts[:, 1], lp.cov_m2)[good]
    miss = np.hypot(lp.points.x_m - pts[:, 0], lp.points.y_m - pts[:, 1])[good]
    a, _, _ = lp.ellipse()
    return d2, miss, a[good]


@pytest.mark.parametrize(
    ("name", "seeds", "kw"),
    [
        (
            "nadir-flat-standard",
            range(1, 31),
            dict(pitch=-90.0, terrain="flat", gnss="standard", agl=25.0),
        ),
        (
            "oblique-hilly-rtk",
            range(101, 121),
            dict(pitch=-60.0, terrain="hilly", gnss="rtk", agl=40.0),
        ),
    ],
)
def test_ellipses_hold_true_positions_over_many_flights(name, seeds, kw, record_property):
    d2s, misses, majors = [], [], []
    for seed in seeds:
        d2, miss, a = _flight(seed, n_pix=6, **kw)
        d2s.append(d2)
        misses.append(miss)
        majors.append(a)
    d2 = np.concatenate(d2s)
    miss = np.concatenate(misses)
    major = np.concatenate(majors)
    inside = float(np.mean(d2 <= 5.991))
    record_property("inside_95", inside)
    record_property("median_error_m", float(np.median(miss)))
    record_property("p95_error_m", float(np.percentile(miss, 95)))
    record_property("median_major_m", float(np.median(major)))
    print(f"{name}: {len(d2)} sightings, {inside:.3f} inside the 95 % ellipse, median error "
          f"{np.median(miss):.2f} m, p95 {np.percentile(miss, 95):.2f} m, median semi-major "
          f"{np.median(major):.2f} m")  # fmt: skip
    assert len(d2) > 500
    assert inside >= 0.93
    # not uselessly large: the typical ellipse is within a few times the typical miss
    assert np.median(major) < 3.5 * np.percentile(miss, 95)


def test_rendered_flight_from_its_files(small_flight, record_property):
    """Read a rendered flight back from its files: camera from the stills' EXIF/XMP, defects
    from the COCO masks; the mask centre cast from the true camera pose lands on the true
    defect polygon, and from the logged (XMP) pose within the expected GNSS error."""
    import csv
    import json

    import geopandas as gpd
    import shapely
    from pycocotools import mask as mask_utils

    _, out = small_flight
    scen = json.loads((out / "truth" / "scenario.json").read_text())
    intr = scen["rig"]["rgb_still"]["intrinsics"]
    coco = json.loads((out / "truth" / "coco_rgb_still.json").read_text())
    frames = {r["file"]: r for r in csv.DictReader((out / "truth" / "frames_rgb_still.csv").open())}
    defects = gpd.read_file(out / "truth" / "defects.gpkg", layer="defects").set_index("defect_id")
    frame = LocalFrame(scen["crs"]["epsg"])
    ground_msl = scen["terrain"]["height_msl_m"]
    home_msl_true = scen["home"]["alt_msl_true_m"]
    err_true, err_logged, checked = [], [], 0
    images = {im["id"]: im for im in coco["images"]}
    for ann in coco["annotations"]:
        im = images[ann["image_id"]]
        x, y, w, h = ann["bbox"]
        if x <= 1 or y <= 1 or x + w >= im["width"] - 2 or y + h >= im["height"] - 2:
            continue  # cut by the image border: its mask centre is not the defect's
        tags = read_image_tags(out / im["file_name"])
        cam = camera_from_tags(tags)
        assert (cam.fx_px, cam.cx_px, cam.k1) == pytest.approx(
            (intr["fx_px"], intr["cx_px"], intr["k1"])
        )
        rle = ann["segmentation"]
        if isinstance(rle["counts"], str):
            rle = {**rle, "counts": rle["counts"].encode()}
        m = mask_utils.decode(rle).astype(bool)
        vv, uu = np.nonzero(m)
        u, v = uu.mean(), vv.mean()
        poly = defects.loc[ann["instance_id"]].geometry
        # true camera pose (camera angles already include the boresight)
        fr = frames[im["file_name"]]
        lon, lat = frame.to_lonlat(float(fr["x_m"]), float(fr["y_m"]))
        true_pose = CameraPoses.single(float(lat), float(lon), float(fr["alt_msl_m"]), "msl",
                                       float(fr["cam_yaw_deg"]), float(fr["cam_pitch_deg"]),
                                       float(fr["cam_roll_deg"]))  # fmt: skip
        g = Georeferencer(cam, FlatGround(ground_msl, "msl"), frame=frame)
        p = g.pixels_to_ground(true_pose, [u], [v])
        gsd = float(fr["gsd_m"])
        err_true.append(shapely.distance(shapely.Point(p.x_m[0], p.y_m[0]), poly) / gsd)
        # logged pose from the XMP, with the rig's boresight and lever arms
        logged = CameraPoses.single(
            float(tags["drone-dji:GpsLatitude"]), float(tags["drone-dji:GpsLongitude"]),
            float(tags["drone-dji:RelativeAltitude"]), "takeoff",
            float(tags["drone-dji:GimbalYawDegree"]), float(tags["drone-dji:GimbalPitchDegree"]),
            float(tags["drone-dji:GimbalRollDegree"]), takeoff_alt_m=home_msl_true, takeoff_ref="msl",
            vehicle_yaw_deg=float(tags["drone-dji:FlightYawDegree"]),
            vehicle_pitch_deg=float(tags["drone-dji:FlightPitchDegree"]),
            vehicle_roll_deg=float(tags["drone-dji:FlightRollDegree"]),
        )  # fmt: skip
        gl = Georeferencer(cam, FlatGround(ground_msl, "msl"), frame=frame, boresight=BORESIGHT)
        q = gl.pixels_to_ground(logged, [u], [v])
        err_logged.append(shapely.distance(shapely.Point(q.x_m[0], q.y_m[0]), poly.centroid))
        checked += 1
    print(f"rendered flight: {checked} sightings; true pose: median {np.median(err_true):.2f} px, "
          f"max {np.max(err_true):.2f} px from the defect; logged pose: median "
          f"{np.median(err_logged):.2f} m, max {np.max(err_logged):.2f} m")  # fmt: skip
    assert checked >= 10
    record_property("true_pose_px_from_polygon_median", float(np.median(err_true)))
    record_property("logged_pose_error_m_median", float(np.median(err_logged)))
    # from the true pose the mask centre is on the defect (within a pixel of its outline)
    assert np.median(err_true) == 0.0 and np.max(err_true) < 1.5
    # from the logged pose: standard GNSS (1.2 m random walk) and a compass bias
    assert np.median(err_logged) < 4.0
