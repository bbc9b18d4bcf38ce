"""Benchmark of the defect store, review writes, exports and the stage runner's skip check.

    .venv/bin/python bench/pipeline_store.py [--defects 5000] [--postgis URL | --no-postgis]

Builds a sample run along the real Tullnerfelder Bahn (shared data), then times: writing and
reading defects and detections (GeoPackage, and PostGIS on a throw-away local server unless
--no-postgis), recording review decisions one by one (the review app's write path), exports,
the HTML report, and the runner's fingerprint of a large input in quick and full mode.
Prints a Markdown table; numbers go into the README.
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from survey.defects import Review  # noqa: E402
from survey.defects.sample import osm_way, sample_run  # noqa: E402
from survey.store import RunInfo, open_store  # noqa: E402

ROWS: list[tuple[str, str, str]] = []


def timed(what: str, n: int, unit: str, fn) -> object:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    ROWS.append((what, f"{dt:.2f} s", f"{n / dt:,.0f} {unit}/s" if n else ""))
    print(f"{what}: {dt:.2f} s", flush=True)
    return out


@contextmanager
def temp_postgis():  # type: ignore[no-untyped-def]
    bindir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    prefix: list[str] = []
    if os.getuid() == 0:
        os.chown(base, pwd.getpwnam("postgres").pw_uid, -1)
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = lambda *a: subprocess.run([*prefix, *a], check=True, capture_output=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(base / "d"), "-A", "trust", "-U", "postgres", "--no-sync")
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(base / "d"),
        "-o",
        f"-h 127.0.0.1 -p {port} -k {base}",
        "-l",
        str(base / "log"),
        "-w",
        "start",
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(base / "d"), "-m", "fast", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def bench_store(label: str, store, sample, n_reviews: int) -> None:  # type: ignore[no-untyped-def]
    nd, nx = len(sample.defects), len(sample.detections)
    store.write_run(RunInfo(store.run_id, asset_id="110 01", asset_length_m=sample.length_m))
    timed(
        f"{label}: write {nd} defects", nd, "defects", lambda: store.write_defects(sample.defects)
    )
    timed(
        f"{label}: write {nx} detections",
        nx,
        "detections",
        lambda: store.write_detections(sample.detections),
    )
    timed(f"{label}: read defects", nd, "defects", store.read_defects)
    timed(f"{label}: read detections", nx, "detections", store.read_detections)
    ids = sample.defects.defect_id[:n_reviews]
    timed(
        f"{label}: {n_reviews} review decisions, one transaction each",
        n_reviews,
        "decisions",
        lambda: [
            store.record_review(
                Review(defect_id=i, decision="confirmed", reviewer="bench", decided_t_s=time.time())
            )
            for i in ids
        ],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--defects", type=int, default=5000)
    ap.add_argument("--reviews", type=int, default=50)
    ap.add_argument("--postgis", help="use this server instead of a throw-away one")
    ap.add_argument("--no-postgis", action="store_true")
    ap.add_argument("--shared-data", default=str(ROOT.parent / "shared" / "data"))
    a = ap.parse_args()
    line, _ = osm_way(
        Path(a.shared_data) / "geometry" / "railway_osm" / "Sankt_Poelten_railways.geojson"
    )
    work = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        sample = timed(
            f"sample run of {a.defects} defects",
            a.defects,
            "defects",
            lambda: sample_run(
                line, n_defects=a.defects, asset_id="110 01", run_id="bench", run_dir=work / "run"
            ),
        )
        with open_store(None, run_dir=work / "run") as st:
            bench_store("GeoPackage", st, sample, a.reviews)
            st.write_layer("coverage", sample.coverage)
            st.write_layer("route", sample.route)
            from survey.report.export import export_run
            from survey.report.html import write_report

            for fmt in ("gpkg", "shp", "geojson", "csv", "kml"):
                timed(
                    f"export {fmt}",
                    a.defects,
                    "defects",
                    lambda fmt=fmt: export_run(st, work / "out" / fmt, fmt),
                )
            timed(
                "HTML report (200 thumbnails)",
                a.defects,
                "defects",
                lambda: write_report(st, work / "run", work / "report.html"),
            )
            ROWS.append(
                ("report size", f"{(work / 'report.html').stat().st_size / 1e6:.1f} MB", "")
            )
        if not a.no_postgis:
            if a.postgis:
                with open_store(a.postgis, run_id="bench", schema="bench") as st:
                    bench_store("PostGIS", st, sample, a.reviews)
            else:
                with temp_postgis() as url, open_store(url, run_id="bench") as st:
                    bench_store("PostGIS", st, sample, a.reviews)
        from survey.pipeline.fingerprint import fingerprint_file

        big = work / "video.mp4"
        with big.open("wb") as fh:
            for _ in range(256):
                fh.write(os.urandom(1 << 20))
        timed(
            "fingerprint 256 MiB input, quick",
            256,
            "MiB",
            lambda: fingerprint_file(big, mode="quick"),
        )
        timed(
            "fingerprint 256 MiB input, full",
            256,
            "MiB",
            lambda: fingerprint_file(big, mode="full"),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| step | time | rate |\n|---|---|---|")
    for r in ROWS:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")


if __name__ == "__main__":
    main()
