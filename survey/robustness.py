"""A bounded, seeded fuzz harness over the file readers (damaged copies of real files).

Each :class:`FuzzTarget` names a real file (relative to the shared data folder) and how to read
it the way ``survey process``/``inspect``/``thermal`` do. :func:`damage` makes one damaged copy
(truncation, bit flips, a zeroed header, a huge length field, a spliced chunk) from a seeded
generator; :func:`fuzz` reads ``n`` of them and sorts every outcome into

- ``ok``: the reader returned (plausibility gates may have warned or masked),
- ``error``: a project error (:class:`survey.errors.SurveyError` or
  :class:`thermal.errors.ThermalError`) naming the file,
- ``traceback``: any other exception (a defect),
- ``budget``: a third-party parser (pyulog, pymavlink) ran past its time budget and was stopped
  by :mod:`survey.telemetry.budget`: a project error naming the file, bounded in time,
- ``hang``: a parser run in this process ran past ``timeout_s`` (stopped with ``SIGALRM``; a
  defect).

``bench/fuzz_parsers.py`` runs it at length and prints the counts quoted in docs/robustness.md;
``tests/survey/test_fuzz_parsers.py`` runs a short deterministic slice.
"""

from __future__ import annotations

import random
import signal
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MUTATIONS", "TARGETS", "FuzzResult", "FuzzTarget", "damage", "fuzz", "outcome"]

#: The ways a file is damaged; :func:`damage` picks one per case (seeded).
MUTATIONS = ("truncate", "flip1", "flip10", "flip1pct", "zero_head", "huge_length", "splice")


def _telemetry(kind: str) -> Callable[[Path], Any]:
    def read(p: Path) -> Any:
        from survey.telemetry.read import read_kind
        from survey.telemetry.sanity import check_track

        return check_track(read_kind(p, kind))

    return read


def _thermal(max_frames: int = 2) -> Callable[[Path], Any]:
    def read(p: Path) -> Any:
        from thermal.read import iter_frames

        out = []
        for i, frame in enumerate(iter_frames(p)):
            out.append(frame.temperature_c())
            if i + 1 >= max_frames:
                break
        return out

    return read


@dataclass(frozen=True)
class FuzzTarget:
    """One parser and the real file its damaged inputs come from."""

    name: str
    source: str  # relative to the shared data folder
    read: Callable[[Path], Any]


TARGETS: tuple[FuzzTarget, ...] = (
    FuzzTarget("srt", "telemetry/dji_srt/p4_rtk.SRT", _telemetry("dji_srt")),
    FuzzTarget("srt-mavic", "telemetry/dji_srt/mavic_air2.srt", _telemetry("dji_srt")),
    FuzzTarget("rjpeg-flir", "thermal/flir_rjpeg/IR_2412.jpg", _thermal()),
    FuzzTarget("rjpeg-dji", "thermal/dji_rjpeg/DJI_XT2.jpg", _thermal()),
    FuzzTarget("fff", "thermal/flir_fff/frame_000000_le.fff", _thermal()),
    FuzzTarget("seq", "thermal/flir_seq_csq/SampleSEQ.seq", _thermal()),
    FuzzTarget("csq", "thermal/flir_seq_csq/SampleCSQ.csq", _thermal()),
    FuzzTarget("tiff", "thermal/flir_fff/example_radiometric.tiff", _thermal()),
    FuzzTarget("klv", "telemetry/misb_klv/Cheyenne.bin", _telemetry("misb_klv")),
    FuzzTarget("ulog", "telemetry/px4/sample_log_small.ulg", _telemetry("px4_ulog")),
    FuzzTarget("dataflash", "telemetry/ardupilot/test.BIN", _telemetry("ardupilot_dataflash")),
    FuzzTarget("tlog", "telemetry/ardupilot/vtol.tlog", _telemetry("mavlink_tlog")),
    FuzzTarget("csv", "telemetry/geotag/Geotag_DJI_2020-12-02_07-50-31.csv", _telemetry("csv")),
    FuzzTarget("gpx", "telemetry/geotag/Geotag.gpx", _telemetry("gpx")),
    FuzzTarget("kml", "telemetry/geotag/Geotag.kml", _telemetry("kml")),
    FuzzTarget("nmea", "telemetry/geotag/Geotag.log", _telemetry("nmea")),
)


def damage(data: bytes, rng: random.Random, how: str | None = None) -> tuple[str, bytes]:
    """One damaged copy of ``data``: ``(description, bytes)``; ``how`` from :data:`MUTATIONS`."""
    how = how or rng.choice(MUTATIONS)
    b = bytearray(data)
    n = len(b)
    if how == "truncate":
        cut = rng.randrange(1, max(2, n))
        return f"truncate at {cut}", bytes(b[:cut])
    if how.startswith("flip"):
        k = {"flip1": 1, "flip10": 10}.get(how, max(1, n * 8 // 100))
        for _ in range(k):
            i = rng.randrange(n)
            b[i] ^= 1 << rng.randrange(8)
        return f"{k} bit flips", bytes(b)
    if how == "zero_head":
        k = rng.choice((4, 16, 64, 512))
        b[:k] = bytes(min(k, n))
        return f"first {k} bytes zeroed", bytes(b[:n])
    if how == "huge_length":
        i = rng.randrange(max(1, n - 4))
        v = rng.choice((0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFF))
        b[i : i + 4] = struct.pack(rng.choice("<>") + "I", v)
        return f"{v:#x} written at {i}", bytes(b[:n])
    if how == "splice":
        i, j = sorted(rng.randrange(n) for _ in range(2))
        k = rng.randrange(n)
        return f"bytes {i}:{j} copied to {k}", bytes(b[:k] + b[i:j] + b[k:])
    raise ValueError(f"unknown mutation {how!r}")


class _Hang(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Hang


def outcome(read: Callable[[Path], Any], path: Path, timeout_s: float) -> tuple[str, str]:
    """``(class, detail)`` of reading ``path``: ok / error / budget / traceback / hang."""
    from survey.errors import SurveyError
    from thermal.errors import ThermalError

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        read(path)
        return "ok", ""
    except _Hang:
        return "hang", f"over {timeout_s:g} s"
    except (SurveyError, ThermalError) as exc:
        if "budget" in str(exc):
            return "budget", str(exc)
        return "error", str(exc)
    except Exception as exc:
        return "traceback", f"{type(exc).__name__}: {exc}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class FuzzResult:
    """Counts of one target's run and the defects (``traceback``/``hang``) with their cases."""

    target: str
    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    defects: list[tuple[str, str, str]] = field(default_factory=list)  # (case, class, detail)
    seconds: float = 0.0


def fuzz(
    target: FuzzTarget,
    data_root: Path,
    n: int,
    *,
    seed: int = 0,
    work_dir: Path,
    timeout_s: float = 20.0,
) -> FuzzResult:
    """Read ``n`` damaged copies of ``target.source`` (seeded) and count the outcomes."""
    src = Path(data_root) / target.source
    data = src.read_bytes()
    work_dir.mkdir(parents=True, exist_ok=True)
    p = work_dir / f"{target.name}{src.suffix}"
    res = FuzzResult(target.name)
    t0 = time.perf_counter()
    for case in range(n):
        rng = random.Random(f"{target.name}:{seed}:{case}")
        what, blob = damage(data, rng)
        p.write_bytes(blob)
        cls, detail = outcome(target.read, p, timeout_s)
        res.cases += 1
        res.outcomes[cls] += 1
        if cls in ("traceback", "hang"):
            res.defects.append((f"case {case} ({what})", cls, detail[:300]))
    p.unlink(missing_ok=True)
    res.seconds = time.perf_counter() - t0
    return res
