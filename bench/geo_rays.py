"""Benchmark: pixel -> ground rays per second, on flat ground and on a DEM (one core).

Run: ``.venv/bin/python bench/geo_rays.py`` (sets 1 thread for numpy's BLAS; the ray code is
plain numpy, single-threaded). Reports the best of several repeats, with a 20 MP camera with
strong lens distortion (DJI FC6310R factory calibration) so undistortion is included.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from geo import (  # noqa: E402
    CameraModel,
    CameraPoses,
    Dem,
    FlatGround,
    Georeferencer,
    LocalFrame,
    PoseErrorModel,
    RouteSet,
    build_routes,
    load_network,
    locate_with_uncertainty,
)

CAM = CameraModel(5472, 3648, 3657.02, 3650.62, 2731.47, 1846.6, -0.267098, 0.111977,
                  0.000924881, 0.0000882056, -0.0331614, name="FC6310R")  # fmt: skip


def best_rate(fn, n: int, repeats: int = 5) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=1_000_000, help="rays per call (flat)")
    ap.add_argument("--n-dem", type=int, default=200_000, help="rays per call (DEM)")
    ap.add_argument(
        "--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    frame = LocalFrame(32633)
    out: dict[str, float] = {}

    pose = CameraPoses.single(48.2, 15.62, 60.0, "takeoff", 30.0, -70.0, 1.0)
    g = Georeferencer(CAM, FlatGround(0.0, "takeoff"), frame=frame)
    st = g.prepare(pose)
    u, v = rng.uniform(0, 5471, args.n), rng.uniform(0, 3647, args.n)
    R, h0 = st.R[0], float(st.h_m[0])

    def bare() -> None:
        """The floor: pinhole K^-1, rotate, intersect a plane (no lens, no checks)."""
        d = np.stack([(u - CAM.cx_px) / CAM.fx_px, (v - CAM.cy_px) / CAM.fy_px,
                      np.ones_like(u)], -1) @ R.T  # fmt: skip
        t = h0 / d[:, 2]
        _ = (st.x_m[0] + t * d[:, 1], st.y_m[0] + t * d[:, 0])

    rates: dict[str, list[float]] = {"bare": [], "flat": [], "iterative": [], "map": []}
    un = (u - CAM.cx_px) / CAM.fx_px, (v - CAM.cy_px) / CAM.fy_px
    for _ in range(5):  # interleaved, so load on the machine hits all alike
        rates["bare"].append(best_rate(bare, args.n, 1))
        rates["flat"].append(best_rate(lambda: g.pixels_to_ground(st, u, v), args.n, 1))
        rates["iterative"].append(best_rate(lambda: CAM.undistort(*un), args.n, 1))
        rates["map"].append(best_rate(lambda: CAM.undistort_pixels(u, v), args.n, 1))
    out["flat_rays_per_s"] = max(rates["flat"])
    out["bare_numpy_rays_per_s"] = max(rates["bare"])
    out["flat_over_bare"] = out["flat_rays_per_s"] / out["bare_numpy_rays_per_s"]
    out["undistort_map_over_iterative"] = max(rates["map"]) / max(rates["iterative"])
    nd = CAM.__class__(5472, 3648, 3657.0, 3650.0, 2735.5, 1823.5)
    g0 = Georeferencer(nd, FlatGround(0.0, "takeoff"), frame=frame)
    out["flat_rays_per_s_no_distortion"] = best_rate(lambda: g0.pixels_to_ground(st, u, v), args.n)

    # synthetic hilly DEM, 1 m cells, 2 x 2 km
    x0, y0 = frame.from_lonlat(15.62, 48.2)
    xs = np.arange(2000) + 0.5
    xx, yy = np.meshgrid(xs, xs)
    h = 20 * np.sin(xx / 150.0) * np.cos(yy / 210.0) + 5 * np.sin(xx / 23.0 + yy / 31.0)
    dem = Dem(h, x0 - 1000, y0 + 1000, 1.0, 1.0, frame.crs, "takeoff")
    gd = Georeferencer(CAM, dem, frame=frame)
    ud, vd = u[: args.n_dem], v[: args.n_dem]
    for name, p in (("nadir", -90.0), ("oblique_45", -45.0)):
        pz = CameraPoses.single(48.2, 15.62, 80.0, "takeoff", 30.0, p, 0.0)
        sd = gd.prepare(pz)
        res = gd.pixels_to_ground(sd, ud, vd)
        out[f"dem_{name}_rays_per_s"] = best_rate(
            lambda sd=sd: gd.pixels_to_ground(sd, ud, vd), args.n_dem, 3
        )
        out[f"dem_{name}_ok_fraction"] = float(res.ok.mean())

    odm = Path(args.shared) / "drone_imagery/odm_p4rtk_taiwan/dsm.tif"
    if odm.exists():
        dem2 = Dem.open(odm, "ellipsoid")
        g2 = Georeferencer(CAM.scaled(1368, 912), dem2)
        p2 = CameraPoses.single(24.68027804, 120.9517016, 186.57, "ellipsoid", 92.9, -60.0, 0.0)
        s2 = g2.prepare(p2)
        u2, v2 = rng.uniform(0, 1367, args.n_dem), rng.uniform(0, 911, args.n_dem)
        out["dem_odm_dsm_oblique60_rays_per_s"] = best_rate(
            lambda: g2.pixels_to_ground(s2, u2, v2), args.n_dem, 3
        )

    # uncertainty: detections per second (flat; 10 error sources, 2 casts each)
    nd_det = 20_000
    lp = lambda: locate_with_uncertainty(g, st, u[:nd_det], v[:nd_det], errors=PoseErrorModel())  # noqa: E731
    out["uncertainty_points_per_s_flat"] = best_rate(lp, nd_det, 3)

    net_path = Path(args.shared) / "geometry/railway_osm/Sankt_Poelten_railways.geojson"
    if net_path.exists():
        t0 = time.perf_counter()
        net = load_network(net_path)
        routes = build_routes(net, by="ref")
        out["routes_all_refs_build_s"] = time.perf_counter() - t0
        rs = RouteSet(routes)
        b = net.total_bounds
        px, py = rng.uniform(b[0], b[2], 100_000), rng.uniform(b[1], b[3], 100_000)
        out["linref_points_per_s"] = best_rate(
            lambda: rs.locate(px, py, max_offset_m=50), 100_000, 3
        )
    for k, val in out.items():
        print(f"{k:40s} {val:14,.2f}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
