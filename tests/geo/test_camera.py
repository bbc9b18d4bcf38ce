"""Camera model against OpenCV, and camera models from EXIF/XMP tags."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from geo import Boresight, CameraModel, camera_from_table, camera_from_tags, read_image_tags
from geo.errors import CameraModelError, GeoFileNotFoundError, GeoFormatError

P4RTK = CameraModel(5472, 3648, 3657.02, 3650.62, 2731.47, 1846.6, -0.267098, 0.111977,
                    0.000924881, 0.0000882056, -0.0331614)  # fmt: skip


def test_project_matches_cv2_projectpoints():
    rng = np.random.default_rng(1)
    pts = np.c_[rng.uniform(-0.6, 0.6, (500, 2)), np.ones(500)] * rng.uniform(5, 50, (500, 1))
    ours = P4RTK.project(pts)
    ref, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), P4RTK.K, P4RTK.dist_coeffs)
    assert np.abs(ours - ref.reshape(-1, 2)).max() < 1e-6


def test_undistort_round_trip_over_the_whole_image():
    u, v = np.meshgrid(np.linspace(-0.5, 5471.5, 60), np.linspace(-0.5, 3647.5, 40))
    rays = P4RTK.pixel_rays(u.ravel(), v.ravel())
    assert np.all(np.isfinite(rays))
    back = P4RTK.project(rays)
    # pixel_rays interpolates the precomputed inverse map (within 0.002 px by construction)
    assert np.abs(back - np.c_[u.ravel(), v.ravel()]).max() < 2e-3
    # the iterative solver it is built from is exact
    x, y = P4RTK.undistort((u.ravel() - P4RTK.cx_px) / P4RTK.fx_px,
                           (v.ravel() - P4RTK.cy_px) / P4RTK.fy_px)  # fmt: skip
    back = P4RTK.project(np.c_[x, y, np.ones_like(x)])
    assert np.abs(back - np.c_[u.ravel(), v.ravel()]).max() < 1e-6
    # and against OpenCV's own (iterative) undistortion at moderate radii
    pts = np.c_[u.ravel(), v.ravel()][::7]
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-12)
    src = pts.reshape(-1, 1, 2)
    if hasattr(cv2, "undistortPointsIter"):  # OpenCV 4
        ref = cv2.undistortPointsIter(src, P4RTK.K, P4RTK.dist_coeffs, None, None, crit)
    else:  # OpenCV 5 folded the criteria into undistortPoints
        ref = cv2.undistortPoints(src, P4RTK.K, P4RTK.dist_coeffs, None, None, None, crit)
    ours = P4RTK.pixel_rays(pts[:, 0], pts[:, 1])
    # 1e-6 normalised = 0.004 px at this focal length
    assert np.abs(ours[:, :2] / ours[:, 2:] - ref.reshape(-1, 2)).max() < 1e-6


@pytest.mark.parametrize(
    "cam",
    [
        P4RTK,
        # the simulator's RGB camera (DJI M30T-like dewarp coefficients), 1000 x 750 stills
        CameraModel(
            1000, 750, 703.125, 703.125, 501.2, 372.575, -0.0125, 0.0061, 0.00012, -8e-05, -0.0011
        ),
        # strong barrel with tangential terms, and pincushion
        CameraModel(1920, 1080, 1100.0, 1105.0, 955.0, 545.0, -0.32, 0.12, 0.001, -0.0005, -0.02),
        CameraModel(640, 512, 760.0, 760.0, 322.0, 250.0, 0.25, 0.05),
    ],  # fmt: skip
)
def test_inverse_map_matches_the_iterative_solver_everywhere(cam: CameraModel) -> None:
    """Issue #20: the precomputed inverse map is within 0.01 px of the iterative undistortion
    (re-projected) at random points over the whole image and beyond its edges; points off the
    grid take the iterative path and agree exactly."""
    rng = np.random.default_rng(7)
    n = 200_000
    u = rng.uniform(-0.5, cam.width_px - 0.5, n)
    v = rng.uniform(-0.5, cam.height_px - 0.5, n)
    x, y = cam.undistort_pixels(u, v)
    xi, yi = cam.undistort((u - cam.cx_px) / cam.fx_px, (v - cam.cy_px) / cam.fy_px)
    ok = np.isfinite(xi)
    assert ok.mean() > 0.99 and np.array_equal(np.isfinite(x), ok)
    xd, yd = cam.distort(x[ok], y[ok])
    err = np.hypot(cam.fx_px * xd + cam.cx_px - u[ok], cam.fy_px * yd + cam.cy_px - v[ok])
    assert err.max() < 0.01, err.max()
    # far off the image: the iterative solver
    far_u, far_v = np.array([-400.0, cam.width_px + 400.0]), np.array([cam.height_px / 2] * 2)
    xf, yf = cam.undistort_pixels(far_u, far_v)
    xr, yr = cam.undistort((far_u - cam.cx_px) / cam.fx_px, (far_v - cam.cy_px) / cam.fy_px)
    np.testing.assert_array_equal(np.isfinite(xf), np.isfinite(xr))
    np.testing.assert_allclose(xf[np.isfinite(xf)], xr[np.isfinite(xr)], rtol=0, atol=0)
    # one map per camera model, shared by equal models
    from geo.camera import _inverse_map

    assert _inverse_map(cam) is _inverse_map(CameraModel(**{
        f: getattr(cam, f) for f in ("width_px", "height_px", "fx_px", "fy_px", "cx_px", "cy_px",
                                     "k1", "k2", "p1", "p2", "k3")}))  # fmt: skip


def test_fold_over_is_nan_not_garbage():
    cam = CameraModel(1000, 1000, 300.0, 300.0, 499.5, 499.5, k1=-0.4)  # folds at r ~ 0.91
    rays = cam.pixel_rays(np.array([499.5, 999.0]), np.array([499.5, 999.0]))
    assert np.all(np.isfinite(rays[0])) and np.all(np.isnan(rays[1]))


def test_scaled_keeps_pixel_edges():
    small = P4RTK.scaled(1368, 912)
    # the full image's outer edge (-0.5) maps to the small image's outer edge
    assert (P4RTK.cx_px + 0.5) / 4 - 0.5 == pytest.approx(small.cx_px)
    ray_big = P4RTK.pixel_rays(300.0 * 4 + 1.5, 200.0 * 4 + 1.5)
    ray_small = small.pixel_rays(300.0, 200.0)
    assert np.allclose(ray_big, ray_small, atol=1e-12)


def test_invalid_intrinsics():
    with pytest.raises(CameraModelError, match="fx_px"):
        CameraModel(100, 100, -1.0, 1.0, 50, 50)
    with pytest.raises(CameraModelError, match="image size"):
        CameraModel(0, 100, 1.0, 1.0, 50, 50)
    with pytest.raises(CameraModelError, match="kind"):
        CameraModel(10, 10, 1.0, 1.0, 5, 5, kind="lidar")  # type: ignore[arg-type]


DJI = {
    "EXIF:Make": "DJI", "EXIF:Model": "FC6310R", "File:ImageWidth": 5472, "File:ImageHeight": 3648,
    "drone-dji:CalibratedFocalLength": "3666.666504",
    "drone-dji:CalibratedOpticalCenterX": "2736.000000",
    "drone-dji:CalibratedOpticalCenterY": "1824.000000",
    "drone-dji:DewarpData": "2018-09-07;3657.02,3650.62,-4.03,23.1,-0.267098,0.111977,"
    "0.000924881,0.0000882056,-0.0331614",
    "drone-dji:DewarpFlag": "0",
}  # fmt: skip


def test_dji_dewarp_data():
    cam = camera_from_tags(DJI)
    assert cam.source == "dji-xmp-dewarp"
    assert (cam.fx_px, cam.fy_px) == (3657.02, 3650.62)
    assert cam.cx_px == pytest.approx(2736 - 4.03) and cam.cy_px == pytest.approx(1824 + 23.1)
    assert cam.k1 == -0.267098 and cam.p2 == 0.0000882056
    flat = camera_from_tags({**DJI, "drone-dji:DewarpFlag": "1"})
    assert not flat.has_distortion
    nod = camera_from_tags({k: v for k, v in DJI.items() if "Dewarp" not in k})
    assert nod.source == "dji-xmp-calibrated" and nod.fx_px == pytest.approx(3666.666504)
    with pytest.raises(CameraModelError, match="9 numbers"):
        camera_from_tags({**DJI, "drone-dji:DewarpData": "2018;1,2,3"})


def test_exif_sources_in_order():
    base = {"Model": "X5", "ImageWidth": 4000, "ImageHeight": 3000, "FocalLength": "(15/1)"}
    fp = camera_from_tags(
        {**base, "FocalPlaneXResolution": "5000", "FocalPlaneResolutionUnit": "3"}
    )
    assert fp.source == "exif-focal-plane" and fp.fx_px == pytest.approx(15 * 500)  # 500 px/mm
    tab = camera_from_tags({"Model": "FC330", "ImageWidth": 4000, "ImageHeight": 3000,
                            "FocalLength": 3.61})  # fmt: skip
    assert tab.source == "exif-focal+table" and tab.fx_px == pytest.approx(3.61 / 6.17 * 4000)
    f35 = camera_from_tags({"Model": "?", "ImageWidth": 4000, "ImageHeight": 3000,
                            "FocalLengthIn35mmFormat": 24})  # fmt: skip
    assert f35.fx_px == pytest.approx(24 / np.hypot(36, 24) * 5000)
    with pytest.raises(CameraModelError, match="no usable focal length"):
        camera_from_tags({"Model": "?", "ImageWidth": 10, "ImageHeight": 10})
    with pytest.raises(CameraModelError, match="(?i)focallength"):
        camera_from_tags({**base, "FocalLength": "abc"})
    with pytest.raises(CameraModelError, match="aspect ratio"):
        camera_from_tags(DJI, 1920, 1080)  # a 16:9 video crop of a 3:2 sensor


def test_thermal_table_and_boresight():
    t = camera_from_table("ZH20T-IR")
    assert t.kind == "thermal" and t.fx_px == pytest.approx(13.5 / 7.68 * 640)
    # docs/domain.md: H20T thermal GSD at 60 m is ~5.3 cm
    assert float(t.gsd_m(60.0)) == pytest.approx(0.053, abs=0.001)
    assert float(camera_from_table("M30T-IR").gsd_m(60.0)) == pytest.approx(0.079, abs=0.001)
    with pytest.raises(CameraModelError, match="not in the table"):
        camera_from_table("nope")
    assert np.allclose(Boresight(yaw_deg=90).rotation() @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_read_image_tags_real_tiff(shared_data):
    p = shared_data / "drone_imagery/odm_p4rtk_taiwan/images/100_0005_0018.tif"
    tags = read_image_tags(p)
    # values as written in the file's XMP / GDAL EXIF text
    assert tags["drone-dji:GimbalYawDegree"] == "+92.90"
    assert tags["drone-dji:GimbalPitchDegree"] == "-60.00"
    assert tags["EXIF:Model"] == "FC6310R" and tags["File:ImageWidth"] == 1368
    cam = camera_from_tags(tags)
    assert cam.fx_px == pytest.approx(3657.02 / 4)


def test_read_image_tags_errors(tmp_path):
    with pytest.raises(GeoFileNotFoundError):
        read_image_tags(tmp_path / "missing.jpg")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(GeoFormatError, match="bad.jpg"):
        read_image_tags(bad)
    ok = tmp_path / "plain.jpg"
    cv2.imwrite(str(ok), np.zeros((8, 12, 3), np.uint8))
    tags = read_image_tags(ok)
    assert tags["File:ImageWidth"] == 12 and not any(k.startswith("drone-dji") for k in tags)
