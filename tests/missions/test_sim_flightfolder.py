"""The simulated flight folder: real formats, read back with independent readers, and truth
files that agree with each other (poses, intrinsics, outlines, masks, clocks)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from missions.sim.classes import CLASSES
from missions.sim.logs import CSV_COLUMNS


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _scenario(folder: Path) -> dict:
    return json.loads((folder / "truth" / "scenario.json").read_text())


def test_layout(small_flight) -> None:
    res, folder = small_flight
    dcim = list((folder / "DCIM").iterdir())
    assert len(dcim) == 1 and re.fullmatch(r"DJI_\d{12}_001_SIM", dcim[0].name)
    mp4 = sorted(dcim[0].glob("*_V.MP4"))
    srt = sorted(dcim[0].glob("*_V.SRT"))
    stills = sorted(dcim[0].glob("*_W.JPG"))
    assert len(mp4) == 1 and len(srt) == 1 and mp4[0].stem == srt[0].stem
    assert re.fullmatch(r"DJI_\d{14}_0001_V", mp4[0].stem)
    assert len(stills) == res.frames["rgb_still"] == 4
    assert len(list((folder / "FLIR").glob("IR_*.jpg"))) == res.frames["thermal"]
    for name in (
        "logs/flight.tlog",
        "logs/flight_log.csv",
        "asset.geojson",
        "truth/scenario.json",
        "truth/defects.gpkg",
        "truth/trajectory_true.csv",
        "truth/trajectory_logged.csv",
    ):
        assert (folder / name).is_file(), name
    for cam in ("rgb_video", "rgb_still", "thermal"):
        assert (folder / "truth" / f"coco_{cam}.json").is_file()
        assert len(_csv(folder / "truth" / f"frames_{cam}.csv")) == res.frames[cam]
    import cv2

    cap = cv2.VideoCapture(str(mp4[0]))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == res.frames["rgb_video"]
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (
        320,
        240,
    )
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(10.0)
    asset = json.loads((folder / "asset.geojson").read_text())
    props = asset["features"][0]["properties"]
    assert (
        props["kind"] == "rail"
        and props["gauge_mm"] == 1435
        and props["chainage_crs"] == "EPSG:32633"
    )


_SRT = re.compile(
    r"(\d+)\n(\S+) --> (\S+)\n<font size=\"28\">FrameCnt: (\d+), DiffTime: (\d+)ms\n"
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\n.*?\[latitude: ([-\d.]+)\] \[longitude: ([-\d.]+)\] "
    r"\[rel_alt: ([-\d.]+) abs_alt: ([-\d.]+)\] \[gb_yaw: ([-\d.]+) gb_pitch: ([-\d.]+) gb_roll: ([-\d.]+)\]"
)


def test_srt_carries_the_logged_pose_and_the_camera_clock(small_flight) -> None:
    res, folder = small_flight
    text = next((folder / "DCIM").glob("*/*.SRT")).read_text()
    blocks = _SRT.findall(text)
    assert len(blocks) == res.frames["rgb_video"] == text.count("FrameCnt:")
    frames = _csv(folder / "truth" / "frames_rgb_video.csv")
    logged = _csv(folder / "truth" / "trajectory_logged.csv")
    by_t = {round(float(r["t_s"]), 1): r for r in logged}
    sc = _scenario(folder)
    off_h = sc["time"]["camera_utc_offset_h"]
    assert off_h == 2.0
    for b, f in zip(blocks[::7], frames[::7], strict=False):
        assert int(b[0]) == int(b[3]) == int(f["frame_index"]) + 1
        # the wall clock is the camera clock in the camera's zone, to the millisecond
        wall = dt.datetime.strptime(b[5], "%Y-%m-%d %H:%M:%S.%f").replace(
            tzinfo=dt.timezone(dt.timedelta(hours=off_h))
        )
        assert wall.timestamp() == pytest.approx(float(f["t_camera_s"]), abs=0.0011)
        t = float(f["t_utc_s"])
        assert float(f["t_camera_s"]) - t == pytest.approx(
            sc["time"]["clock_offsets_s"]["rgb_camera"], abs=1e-5
        )
        lg = by_t[round(t, 1)]
        assert float(b[6]) == pytest.approx(float(lg["lat_deg"]), abs=6e-7)
        assert float(b[7]) == pytest.approx(float(lg["lon_deg"]), abs=6e-7)
        assert float(b[9]) == pytest.approx(float(lg["alt_msl_m"]), abs=6e-4)
        assert float(b[8]) == pytest.approx(float(lg["rel_alt_m"]), abs=6e-4)
        assert float(b[10]) == pytest.approx(float(lg["gimbal_yaw_deg"]), abs=0.051)
        assert float(b[11]) == pytest.approx(float(lg["gimbal_pitch_deg"]), abs=0.051)


def test_photos_carry_exif_gps_subseconds_and_dji_xmp(small_flight) -> None:
    _, folder = small_flight
    frames = _csv(folder / "truth" / "frames_rgb_still.csv")
    sc = _scenario(folder)
    for f in frames:
        path = folder / f["file"]
        img = Image.open(path)
        assert img.size == (800, 600)
        ex = img.getexif()
        sub = ex.get_ifd(0x8769)
        gps = ex.get_ifd(0x8825)
        assert ex[0x010F] == "DJI"
        stamp = f"{sub[0x9003]}.{sub[0x9291]}{sub[0x9011]}"
        t = dt.datetime.strptime(stamp.replace("+", " +"), "%Y:%m:%d %H:%M:%S.%f %z").timestamp()
        assert t == pytest.approx(float(f["t_camera_s"]), abs=0.0011)
        lat = sum(float(v) / 60**i for i, v in enumerate(gps[2]))
        raw = path.read_bytes()
        xmp = dict(re.findall(rb'drone-dji:(\w+)="([^"]*)"', raw))
        assert lat == pytest.approx(float(xmp[b"GpsLatitude"]), abs=2e-7)
        assert float(gps[6]) == pytest.approx(float(xmp[b"AbsoluteAltitude"]), abs=1e-3)
        for key in (
            b"GimbalYawDegree",
            b"GimbalPitchDegree",
            b"GimbalRollDegree",
            b"FlightYawDegree",
            b"RelativeAltitude",
            b"CalibratedFocalLength",
            b"LRFTargetDistance",
        ):
            assert key in xmp
        # the laser range finder reads the true slant range along the optical axis (+-0.1 m)
        agl, pitch = float(f["agl_m"]), float(f["cam_pitch_deg"])
        assert float(xmp[b"LRFTargetDistance"]) == pytest.approx(
            agl / math.sin(math.radians(-pitch)), abs=0.5
        )
        assert float(xmp[b"CalibratedFocalLength"]) == pytest.approx(
            sc["rig"]["rgb_still"]["intrinsics"]["fx_px"], abs=1e-4
        )


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
def test_exiftool_reads_the_photo_tags(small_flight) -> None:
    """exiftool (the reference reader) sees EXIF GPS equal to the DJI XMP position, the
    sub-second capture time with its offset, and the gimbal tags."""
    _, folder = small_flight
    f = _csv(folder / "truth" / "frames_rgb_still.csv")[1]
    out = json.loads(
        subprocess.run(
            ["exiftool", "-j", "-n", "-G1", str(folder / f["file"])],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )[0]
    assert out["GPS:GPSLatitude"] == pytest.approx(
        float(out["XMP-drone-dji:GPSLatitude"]), abs=2e-7
    )
    assert out["GPS:GPSLongitude"] == pytest.approx(
        float(out["XMP-drone-dji:GPSLongitude"]), abs=2e-7
    )
    stamp = dt.datetime.strptime(out["Composite:SubSecDateTimeOriginal"], "%Y:%m:%d %H:%M:%S.%f%z")
    assert stamp.timestamp() == pytest.approx(float(f["t_camera_s"]), abs=0.0011)
    assert float(out["XMP-drone-dji:GimbalPitchDegree"]) == pytest.approx(
        float(f["gimbal_pitch_deg"]), abs=0.6
    )
    for key in (
        "XMP-drone-dji:RelativeAltitude",
        "XMP-drone-dji:GimbalYawDegree",
        "ExifIFD:FocalLength",
        "XMP-drone-dji:LRFTargetDistance",
        "XMP-drone-dji:FlightYawDegree",
    ):
        assert key in out, key


def test_thermal_frames_read_back(small_flight) -> None:
    from thermal import read_thermal

    _, folder = small_flight
    frames = _csv(folder / "truth" / "frames_thermal.csv")
    for f in frames[::5]:
        fr = read_thermal(folder / f["file"])
        assert fr.raw.shape == (512, 640) and fr.raw.dtype == np.uint16
        assert fr.datetime_utc_s == pytest.approx(float(f["t_camera_s"]), abs=0.002)
        assert fr.gimbal is not None and fr.gimbal.pitch_deg == pytest.approx(
            float(f["gimbal_pitch_deg"]), abs=0.5
        )
        assert fr.gps is not None and fr.gps.alt_ref == "msl"
        t = fr.temperature_c()
        # a day rail scene: grass and ballast between 5 and 45 deg C, polished rails colder
        assert 8.0 < float(np.median(t)) < 40.0
        assert fr.calibration.object_distance_m == pytest.approx(float(f["agl_m"]), abs=0.2)


def test_tlog_messages_rates_dropouts_and_gimbal_frame(small_flight) -> None:
    from pymavlink import mavutil

    from missions.sim.camera import rotation_ypr

    res, folder = small_flight
    sc = _scenario(folder)
    conn = mavutil.mavlink_connection(str(folder / "logs" / "flight.tlog"))
    seen: dict[str, list] = {}
    last = -1.0
    while (m := conn.recv_match()) is not None:
        assert m._timestamp >= last
        last = m._timestamp
        seen.setdefault(m.get_type(), []).append(m)
    for name in (
        "HEARTBEAT",
        "SYSTEM_TIME",
        "GLOBAL_POSITION_INT",
        "ATTITUDE",
        "GPS_RAW_INT",
        "VFR_HUD",
        "CAMERA_FEEDBACK",
        "GIMBAL_DEVICE_ATTITUDE_STATUS",
    ):
        assert name in seen, name
    gpi = seen["GLOBAL_POSITION_INT"]
    ts = np.array([m._timestamp for m in gpi])
    gaps = np.diff(ts)
    assert np.median(gaps) == pytest.approx(0.1, abs=0.02)
    ((a, b),) = sc["error_model"]["realized"]["link_dropouts_utc_s"]
    assert gaps.max() >= (b - a) - 0.1  # the telemetry link dropout leaves a hole
    assert not np.any((ts > a + 0.1) & (ts < b - 0.1))
    # SYSTEM_TIME: unix time - boot time is the boot instant
    st = seen["SYSTEM_TIME"][0]
    assert st.time_unix_usec / 1e6 - st.time_boot_ms / 1e3 == pytest.approx(
        sc["time"]["boot_utc_s"], abs=0.002
    )
    # camera triggers: one per still and thermal frame, unless lost in the dropout
    n_cam = res.frames["rgb_still"] + res.frames["thermal"]
    assert n_cam - 4 <= len(seen["CAMERA_FEEDBACK"]) <= n_cam
    # the gimbal quaternion is in the earth frame: it equals the logged absolute gimbal angles
    rows = {round(float(r["t_s"]), 1): r for r in _csv(folder / "logs" / "flight_log.csv")}
    for m in seen["GIMBAL_DEVICE_ATTITUDE_STATUS"][::25]:
        assert m.flags & mavutil.mavlink.GIMBAL_DEVICE_FLAGS_YAW_IN_EARTH_FRAME
        t = sc["time"]["boot_utc_s"] + m.time_boot_ms / 1e3
        r = rows[round(t, 1)]
        w, x, y, z = m.q
        R = np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
            ]
        )
        ref = rotation_ypr(
            float(r["gimbal_yaw_deg"]), float(r["gimbal_pitch_deg"]), float(r["gimbal_roll_deg"])
        )
        assert np.abs(R - ref).max() < 2e-4


def test_csv_log(small_flight) -> None:
    res, folder = small_flight
    rows = _csv(folder / "logs" / "flight_log.csv")
    assert list(rows[0]) == CSV_COLUMNS
    t = np.array([float(r["t_s"]) for r in rows])
    assert np.allclose(np.diff(t), 0.1, atol=1e-3)
    events = [e for r in rows for e in r["event"].split(";") if e]
    assert len(events) == res.frames["rgb_still"] + res.frames["thermal"]
    assert {r["gimbal_mode"] for r in rows} == {"absolute"}
    outages = _scenario(folder)["error_model"]["realized"]["gnss_outages_utc_s"]
    fixes = {r["fix_type"] for r in rows}
    assert fixes <= {"1", "3"} and ("1" in fixes) == bool(outages)


def test_survey_telemetry_readers_accept_the_files(small_flight) -> None:
    """The project's own flight-log readers read the SRT, tlog and CSV without complaint."""
    from survey.telemetry.read import read_track

    res, folder = small_flight
    srt = read_track(next((folder / "DCIM").glob("*/*.SRT")))
    assert len(srt) == res.frames["rgb_video"] and srt.gimbal_mode == "absolute"
    tlog = read_track(folder / "logs" / "flight.tlog")
    log_csv = read_track(folder / "logs" / "flight_log.csv")
    assert tlog.time_base == log_csv.time_base == "utc"
    assert np.nanmax(np.abs(tlog.lat_deg[:50] - log_csv.lat_deg[:50])) < 1e-6


def test_truth_gpkg(small_flight) -> None:
    import geopandas as gpd
    import pyogrio

    res, folder = small_flight
    path = folder / "truth" / "defects.gpkg"
    layers = {name for name, _ in pyogrio.list_layers(path)}
    assert layers == {"defects", "lookalikes", "asset", "flight_path"}
    d = gpd.read_file(path, layer="defects")
    assert d.crs.to_epsg() == 32633 and len(d) == res.defects > 5
    assert set(d["class"]) <= set(CLASSES) and d["severity"].between(1, 5).all()
    # defects sit on the flown stretch (chainage 900..940) and within the corridor
    assert d["chainage_m"].between(900.0, 940.0).all()
    assert (d["offset_m"].abs() < 13.0).all()
    assert (d["chainage_from_m"] <= d["chainage_m"]).all() and (
        d["chainage_m"] <= d["chainage_to_m"]
    ).all()
    assert np.allclose(d.geometry.area, d["area_m2"], rtol=1e-6)
    look = gpd.read_file(path, layer="lookalikes")
    assert (look["class"] == "false_positive").all()


def test_coco_files_are_valid_and_reference_truth(small_flight) -> None:
    import geopandas as gpd

    _, folder = small_flight
    ids = set(gpd.read_file(folder / "truth" / "defects.gpkg", layer="defects")["defect_id"])
    ids |= set(gpd.read_file(folder / "truth" / "defects.gpkg", layer="lookalikes")["defect_id"])
    for cam, band in (("rgb_video", "rgb"), ("rgb_still", "rgb"), ("thermal", "thermal")):
        coco = COCO(str(folder / "truth" / f"coco_{cam}.json"))
        cats = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
        assert all(band in CLASSES[n].bands for n in cats.values())
        for ann in coco.loadAnns(coco.getAnnIds()):
            assert ann["instance_id"] in ids
            assert ann["category_id"] in cats
            assert mask_utils.area(ann["segmentation"]) == ann["area"] > 0
    video = json.loads((folder / "truth" / "coco_rgb_video.json").read_text())
    assert video["images"][5]["frame_index"] == 5 and video["images"][5]["file_name"].endswith(
        "_V.MP4"
    )


def _grid_from_ned(epsg: int, x: float, y: float) -> np.ndarray:
    import pyproj

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


def test_truth_files_agree_projected_outlines_equal_coco_masks(small_flight) -> None:
    """Outline (GPKG) + true pose (frames CSV) + intrinsics (scenario.json), projected with
    OpenCV, give the COCO masks: the truth files are mutually consistent."""
    import cv2
    import geopandas as gpd
    from scipy.spatial.transform import Rotation
    from skimage.draw import polygon as fill

    _, folder = small_flight
    sc = _scenario(folder)
    intr = sc["rig"]["rgb_still"]["intrinsics"]
    K = np.array([[intr["fx_px"], 0, intr["cx_px"]], [0, intr["fy_px"], intr["cy_px"]], [0, 0, 1]])
    dist = np.array([intr[k] for k in ("k1", "k2", "p1", "p2", "k3")])
    ground = sc["terrain"]["height_msl_m"]
    gdf = gpd.read_file(folder / "truth" / "defects.gpkg", layer="defects").set_index("defect_id")
    coco = COCO(str(folder / "truth" / "coco_rgb_still.json"))
    frames = {f["file"]: f for f in _csv(folder / "truth" / "frames_rgb_still.csv")}
    checked = 0
    for img in coco.loadImgs(coco.getImgIds()):
        f = frames[img["file_name"]]
        R = Rotation.from_quat([float(f[k]) for k in ("q_x", "q_y", "q_z", "q_w")]).as_matrix()
        C = np.array([float(f["x_m"]), float(f["y_m"]), float(f["alt_msl_m"])])
        M = _grid_from_ned(32633, C[0], C[1])
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img["id"])):
            if ann["instance_id"] not in gdf.index or ann["area"] < 30:
                continue
            xy = np.asarray(gdf.loc[ann["instance_id"]].geometry.exterior.coords)[:-1]
            xyz = np.column_stack([xy, np.full(len(xy), ground)])
            cam_pts = np.linalg.solve(M, (xyz - C).T).T @ R
            if np.any(cam_pts[:, 2] <= 0):
                continue
            px, _ = cv2.projectPoints(cam_pts, np.zeros(3), np.zeros(3), K, dist)
            px = px[:, 0]
            if (
                px.min() < -50
                or px[:, 0].max() > img["width"] + 50
                or px[:, 1].max() > img["height"] + 50
            ):
                continue  # partly outside the frame: the simulator clipped it
            m = np.zeros((img["height"], img["width"]), bool)
            rr, cc = fill(px[:, 1], px[:, 0], m.shape)
            m[rr, cc] = True
            got = mask_utils.decode(ann["segmentation"]).astype(bool)
            iou = (m & got).sum() / (m | got).sum()
            assert iou > 0.97, (ann["instance_id"], iou)
            checked += 1
    assert checked >= 3


def test_realised_errors_are_what_the_truth_says(small_flight) -> None:
    _, folder = small_flight
    sc = _scenario(folder)
    real = sc["error_model"]["realized"]
    true = _csv(folder / "truth" / "trajectory_true.csv")
    logged = _csv(folder / "truth" / "trajectory_logged.csv")
    tt = np.array([float(r["t_utc_s"]) for r in true])
    tl = np.array([float(r["t_s"]) for r in logged])

    def col(rows: list[dict[str, str]], k: str) -> np.ndarray:
        return np.array([float(r[k]) for r in rows])

    yaw_err = (
        col(logged, "yaw_deg")
        - np.interp(tl, tt, np.unwrap(col(true, "yaw_deg"), period=360))
        + 180
    ) % 360 - 180
    # a constant compass bias plus a 0.3 deg Gauss-Markov wander (5 s) over a 14 s flight
    assert np.mean(yaw_err) == pytest.approx(real["yaw_bias_deg"], abs=0.9)
    home = sc["home"]["alt_msl_true_m"]
    baro = col(logged, "rel_alt_m") - (np.interp(tl, tt, col(true, "alt_msl_m")) - home)
    drift = real["baro_drift_m_per_min"] * (tl - tl[0]) / 60
    assert np.mean(baro - drift) == pytest.approx(real["baro_bias_m"], abs=0.05)
    dx = col(logged, "x_m") - np.interp(tl, tt, col(true, "x_m"))
    assert 0.0 < np.sqrt(np.mean(dx**2)) < 5 * real["gnss_h_sigma_m"]
    assert real["gnss"] == "standard" and len(real["link_dropouts_utc_s"]) == 1
    assert real["gnss_outages_utc_s"] == []  # 14 s is too short for a 6 s outage
