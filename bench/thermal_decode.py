"""Decode + convert speed: ours vs flirpy's exiftool route vs flirimageextractor.

Run: ``.venv/bin/python bench/thermal_decode.py [--repeat N]``. Needs ../shared/data; flirimageextractor
is optional (``pip install flirimageextractor`` in the venv for the benchmark only; it is not a
dependency). Prints per-frame milliseconds and the speed-up, and the accuracy of each route on
IR_2412.jpg against the Thermimage reference.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "thermal"


def timed(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    out = fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1000.0, out


def ours(path: Path) -> np.ndarray:
    from thermal import read_thermal

    return read_thermal(path).temperature_c()


def flirpy_exiftool(path: Path) -> np.ndarray:
    """flirpy's route: exiftool extracts the raw image and the metadata, flirpy converts."""
    import cv2
    from flirpy.util.raw import raw2temp

    meta_txt = subprocess.run(
        ["exiftool", "-FLIR:all", str(path)], capture_output=True, text=True, check=True
    ).stdout
    meta = {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in meta_txt.splitlines())}
    data = subprocess.run(
        ["exiftool", "-b", "-RawThermalImage", str(path)], capture_output=True, check=True
    ).stdout
    raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if meta.get("Raw Thermal Image Type") == "PNG":
        raw = raw.byteswap()
    return raw2temp(raw.astype(np.float64), meta)


def flirimageextractor_route(path: Path) -> np.ndarray:
    import flirimageextractor

    fe = flirimageextractor.FlirImageExtractor(exiftool_path="exiftool", is_debug=False)
    fe.process_image(str(path))
    return fe.get_thermal_np()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    ref = np.fromfile(DATA / "flir_rjpeg/IR_2412_tempC_W640_H480_float32le.raw", "<f4").reshape(
        480, 640
    )
    files = {
        "IR_2412.jpg (640x480)": DATA / "flir_rjpeg/IR_2412.jpg",
        "DJI_XT2.jpg (640x512)": DATA / "dji_rjpeg/DJI_XT2.jpg",
    }
    routes = {"ours": ours, "flirpy+exiftool": flirpy_exiftool}
    try:
        import flirimageextractor  # noqa: F401

        routes["flirimageextractor"] = flirimageextractor_route
    except ImportError:
        print("flirimageextractor not installed: skipped")
    for name, path in files.items():
        base = None
        for rname, fn in routes.items():
            rep = args.repeat if rname == "ours" else max(3, args.repeat // 5)
            try:
                ms, t = timed(lambda fn=fn, path=path: fn(path), rep)
            except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
                print(f"{name:24s} {rname:20s} failed: {str(exc)[:110]}")
                continue
            base = base or ms
            acc = ""
            if name.startswith("IR_2412"):
                d = np.asarray(t, np.float64) - ref
                acc = f"  vs reference: max |err| {np.abs(d).max():.4f} degC, mean {d.mean():+.4f} degC"
            print(f"{name:24s} {rname:20s} {ms:8.2f} ms  ({ms / base:6.1f}x ours){acc}")
    # a simulated frame written by our writer: the onboard/pipeline path
    from thermal import PlanckCalibration, read_thermal, temperature_to_raw, write_flir_rjpeg

    cal = PlanckCalibration(object_distance_m=50.0)
    raw = np.round(
        temperature_to_raw(np.random.default_rng(0).uniform(0, 30, (512, 640)), cal)
    ).astype(np.uint16)
    with tempfile.TemporaryDirectory() as d:
        for fmt in ("raw", "png"):
            p = write_flir_rjpeg(Path(d) / f"s_{fmt}.jpg", raw, cal, raw_format=fmt)
            ms, _ = timed(lambda p=p: read_thermal(p).temperature_c(), args.repeat)
            print(f"{'ours, written 640x512 ' + fmt:24s} {'ours':20s} {ms:8.2f} ms")
    from thermal import detect_anomalies
    from thermal.synthetic import make_leak_scene

    s = make_leak_scene(0)
    ms, _ = timed(lambda: detect_anomalies(s.temp_c, corridor=s.corridor), max(3, args.repeat // 4))
    print(f"{'leak detection 640x512':24s} {'ours':20s} {ms:8.2f} ms")


if __name__ == "__main__":
    main()
