"""Benchmark: parse time and memory of the largest flight logs in ../shared/data/telemetry.

Each file is read in a fresh Python process (so peak memory is that file's alone): the time of
the reader (best of ``--repeat`` runs, after one warm-up; wall clock and CPU time, the latter
less disturbed by other work on the machine), the time with the sanity filters,
the peak of Python allocations (tracemalloc) and the process's peak resident memory minus its
resident memory before reading (imports included before).

    .venv/bin/python bench/telemetry_parse.py [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "telemetry"
FILES = [
    "dji_srt/MAVIC3.srt",
    "dji_srt/m2zoom.SRT",
    "ardupilot/erle_Loiter_RTL.bin",
    "dji_flightlog_csv/P4P_2018-07-04_flightrecord.csv",
    "ardupilot/vtol.tlog",
    "px4/sample_log_small.ulg",
    "dji_image_metadata/agung2_image_metadata.csv",
    "misb_klv/Cheyenne.bin",
]

CHILD = r"""
import json, resource, sys, time, tracemalloc
from pathlib import Path
from survey.telemetry.read import _reader, sniff_kind
from survey.telemetry.sanity import check_track
import pymavlink.DFReader, pyulog, pyproj  # imports are not part of the measurement
path, repeat = Path(sys.argv[1]), int(sys.argv[2])
read = _reader(sniff_kind(path))
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
tr = read(path)
peak_py = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
best = best_checked = best_cpu = float("inf")
for _ in range(repeat):
    c0 = time.process_time(); t0 = time.perf_counter(); tr = read(path); t1 = time.perf_counter()
    c1 = time.process_time(); check_track(tr); t2 = time.perf_counter()
    best, best_checked, best_cpu = min(best, t1 - t0), min(best_checked, t2 - t0), min(best_cpu, c1 - c0)
print(json.dumps({"samples": len(tr), "read_s": best, "read_and_check_s": best_checked, "read_cpu_s": best_cpu,
                  "peak_python_mib": peak_py / 2**20, "peak_rss_growth_mib": (rss1 - rss0) / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for rel in FILES:
        p = DATA / rel
        if not p.is_file():
            print(f"skip {rel}: absent", file=sys.stderr)
            continue
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(p), str(args.repeat)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r.update(file=rel, mib=p.stat().st_size / 2**20)
        rows.append(r)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (on {os.cpu_count()} cores)\n")
    print(
        "| file | size (MiB) | samples | read CPU (s) | read wall (s) | read + sanity wall (s) "
        "| peak Python alloc (MiB) | peak RSS growth (MiB) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['file']} | {r['mib']:.2f} | {r['samples']} | {r['read_cpu_s']:.3f} | {r['read_s']:.3f} | "
            f"{r['read_and_check_s']:.3f} | {r['peak_python_mib']:.1f} | {r['peak_rss_growth_mib']:.1f} |"
        )


EMBEDDED = r"""
import json, sys, tempfile, time
from pathlib import Path
import numpy as np
from survey.telemetry.klv import _ber, read_klv
from survey.telemetry.mpegts import read_klv_ts, write_klv_ts
from survey.telemetry.gpmf import gpmf_payloads
src, raw, repeat = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
d = src.read_bytes(); pk, i = [], 0
while i < len(d):
    n, j = _ber(d, i + 16); pk.append(d[i:j + n]); i = j + n
ref = read_klv(src); t = ref.t_s - ref.t_s[0]
ts = write_klv_ts(Path(tempfile.mkdtemp()) / "c.ts", pk, t, video_pts_s=np.arange(0, t[-1] + 1, 1 / 30))
def best(f):
    f(); b = float("inf")
    for _ in range(repeat):
        t0 = time.process_time(); f(); b = min(b, time.process_time() - t0)
    return b
base = best(lambda: read_klv(src))
kts = best(lambda: read_klv_ts(ts))
payload = raw.read_bytes()
g = best(lambda: [gpmf_payloads(payload) for _ in range(100)]) / 100
from survey.telemetry.djmd import read_djmd, write_djmd_mp4
from survey.telemetry.gpmf import read_gpmf, write_gpmf_mp4
n = 1800; tt = np.arange(n) / 30.0; z = np.zeros(n)
kw = dict(lat_deg=52 + 1e-6 * np.arange(n), lon_deg=5 + 1e-6 * np.arange(n), rel_alt_m=z + 30,
          vel_ned_mps=np.tile([1.0, 1.0, 0.0], (n, 1)), roll_deg=z + 1, pitch_deg=z - 3,
          yaw_deg=z + 90, utc0_s=1.7e9)
tmp = Path(tempfile.mkdtemp())
dj = write_djmd_mp4(tmp / "d.mp4", tt, alt_m=z + 60, gimbal_pitch_deg=z - 90,
                    gimbal_roll_deg=z, gimbal_yaw_deg=z + 90, fps=30.0, **kw)
gp = write_gpmf_mp4(tmp / "g.mp4", tt, alt_msl_m=z + 60, **kw)
dj_s = best(lambda: read_djmd(dj)); gp_s = best(lambda: read_gpmf(gp))
print(json.dumps({"klv_raw_cpu_s": base, "klv_ts_cpu_s": kts, "ts_mib": ts.stat().st_size / 2**20,
                  "packets": len(pk), "gpmf_payload_cpu_s": g, "gpmf_payload_bytes": len(payload),
                  "djmd_frames": n, "djmd_cpu_s": dj_s, "gpmf_same_cpu_s": gp_s}))
"""


def embedded(repeat: int) -> None:
    """Telemetry inside videos: KLV demuxed from MPEG-TS (the Cheyenne KLV muxed into a TS with a
    30 fps video PID) against the raw KLV reader on the same packets, one GPMF payload, and a
    60 s DJI djmd track against the GPMF reader on the same poses."""
    raw = ROOT / "tests" / "data" / "gpmf" / "karma.raw"
    out = subprocess.run(
        [sys.executable, "-c", EMBEDDED, str(DATA / "misb_klv" / "Cheyenne.bin"), str(raw),
         str(repeat)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"KLV in MPEG-TS: {r['packets']} packets, {r['ts_mib']:.2f} MiB: {r['klv_ts_cpu_s']:.3f} s CPU "
        f"= {r['klv_ts_cpu_s'] / r['klv_raw_cpu_s']:.2f} x the raw KLV reader ({r['klv_raw_cpu_s']:.3f} s)\n"
        f"GPMF: one {r['gpmf_payload_bytes']}-byte Karma payload (1 s of telemetry) decodes in "
        f"{r['gpmf_payload_cpu_s'] * 1e3:.2f} ms CPU\n"
        f"DJI djmd: {r['djmd_frames']} frames (60 s at 30 fps) in {r['djmd_cpu_s']:.3f} s CPU "
        f"= {r['djmd_cpu_s'] / r['gpmf_same_cpu_s']:.2f} x the GPMF reader on the same poses "
        f"written as GPMF ({r['gpmf_same_cpu_s']:.3f} s)"
    )


if __name__ == "__main__":
    if "--embedded" in sys.argv:
        embedded(3)
    else:
        main()
