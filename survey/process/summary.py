"""The end-of-run summary: frames used, defects by class and severity, gaps, unlocatable frames.

:func:`build_summary` collects it from the stages' own records into one JSON-ready dict
(``RUN_DIR/summary.json``); :func:`format_summary` prints it for people.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from survey.process.records import load_json

__all__ = ["EXIT_SKIPPED", "build_summary", "format_summary", "skipped_inputs"]

#: Exit status of ``survey process`` when it finished but skipped an unreadable input.
EXIT_SKIPPED = 3


def _read(p: Path) -> Any:
    return load_json(p) if p.is_file() else {}


def skipped_inputs(poses: dict[str, Any], failures: dict[str, Any]) -> list[str]:
    """What was reported and left out: unreadable logs, streams not analysed, unreadable frames.

    A run with any of these ends with exit status 3 (``survey process``), the rest processed.
    """
    out = [w for w in poses.get("warnings", []) if str(w).startswith("log skipped:")]
    out += [
        f"stream {sid} not analysed: {s['error']}"
        for sid, s in poses.get("streams", {}).items()
        if "error" in s
    ]
    out += [f"frame {k}: {why}" for k, why in failures.items()]
    return out


def build_summary(run_dir: Path, written: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Everything an operator wants to know at the end of a run."""
    st = run_dir / "stages"
    poses = _read(st / "poses" / "poses.json")
    sel = _read(st / "select" / "select.json")
    det = _read(st / "detect" / "detect.json")
    th = _read(st / "thermal" / "thermal.json")
    geo = _read(st / "georef" / "georef.json")
    fuse = _read(st / "fuse" / "fuse.json")
    store = _read(st / "store" / "store.json")
    flight = _read(st / "discover" / "flight.json")
    frames: dict[str, Any] = {}
    unlocatable: dict[str, dict[str, int]] = {}
    for sid, s in poses.get("streams", {}).items():
        if "error" in s:
            frames[sid] = {"kind": s["kind"], "error": s["error"]}
            continue
        chosen = None
        for band in sel.get("bands", {}).values():
            if sid in band.get("streams", {}):
                chosen = band["streams"][sid]
        frames[sid] = {
            "kind": s["kind"],
            "frames": s["frames"],
            "located": s["located"],
            "selected": (chosen or {}).get("selected", 0),
            "clock": s.get("sync", {}).get("method", ""),
            "clock_sigma_s": s.get("sync", {}).get("sigma_s"),
        }
        if s.get("unlocatable"):
            unlocatable[sid] = s["unlocatable"]
    failures = {**det.get("failures", {}), **th.get("failures", {})}
    skipped = skipped_inputs(poses, failures)
    gaps = {
        band: {rid: c["gaps_m"] for rid, c in info.get("coverage", {}).items()}
        for band, info in sel.get("bands", {}).items()
    }
    covered = {
        band: {
            rid: {"surveyed_m": c["surveyed_chainage_m"], "covered_m": c["covered_m"]}
            for rid, c in info.get("coverage", {}).items()
        }
        for band, info in sel.get("bands", {}).items()
    }
    return {
        "run_id": params.get("run_id"),
        "flight": params.get("flight_dir"),
        "asset": flight.get("asset", {}),
        "reference_log": poses.get("reference_log"),
        "frames": frames,
        "frames_analysed": det.get("frames", 0) + sum(
            v.get("selected", 0) for v in th.get("streams", {}).values()
        ),
        "unlocatable_frames": unlocatable,
        "unreadable_frames": failures,
        "skipped_inputs": skipped,
        "detections": {"rgb": det.get("detections", 0), "thermal": th.get("anomalies", 0),
                       "thermal_rejected": th.get("rejected", {}),
                       "not_located": geo.get("unlocated", {})},
        "models": det.get("models", []),
        "notes": [det["note"]] if det.get("note") else [],
        "defects": fuse.get("defects", 0),
        "defects_by_class": fuse.get("by_class", {}),
        "defects_by_severity": fuse.get("by_severity", {}),
        "coverage": covered,
        "coverage_gaps_m": gaps,
        "store": store.get("store"),
        "outputs": written,
        "warnings": list(flight.get("warnings", [])) + list(poses.get("warnings", [])),
        "timing_s": {"detect": det.get("seconds"), "detect_model": det.get("model_s"),
                     "thermal": th.get("seconds")},
    }  # fmt: skip


def format_summary(s: dict[str, Any], run_dir: Path) -> str:
    """The summary as lines of text."""
    out = [f"run {s['run_id']}: {s['defects']} defects along {s['asset'].get('name', '?')}"]
    out.append("frames:")
    for sid, f in s["frames"].items():
        if "error" in f:
            out.append(f"  {sid:10s} {f['kind']:8s} NOT ANALYSED: {f['error']}")
            continue
        sig = f.get("clock_sigma_s")
        clock = f"{f['clock']}" + (f" (+/-{sig * 1000:.0f} ms)" if sig else "")
        out.append(
            f"  {sid:10s} {f['kind']:8s} {f['frames']:6d} frames, {f['located']:6d} located, "
            f"{f['selected']:5d} analysed; clock: {clock}"
        )
    if s["unlocatable_frames"]:
        out.append("unlocatable frames:")
        for sid, reasons in s["unlocatable_frames"].items():
            for why, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
                out.append(f"  {sid}: {n} x {why}")
    if s["unreadable_frames"]:
        out.append(f"unreadable frames: {len(s['unreadable_frames'])}")
        for k, why in list(s["unreadable_frames"].items())[:5]:
            out.append(f"  {k}: {why}")
    if s["defects_by_class"]:
        out.append(
            "defects by class: " + ", ".join(f"{c} {n}" for c, n in s["defects_by_class"].items())
        )
        out.append("defects by severity: " + ", ".join(
            f"S{k} {v}" for k, v in s["defects_by_severity"].items() if v))  # fmt: skip
    for band, routes in s["coverage_gaps_m"].items():
        for rid, gaps in routes.items():
            cov = s["coverage"][band][rid]
            a, b = cov["surveyed_m"]
            txt = ", ".join(f"{g[0]:.0f}-{g[1]:.0f} m" for g in gaps) or "none"
            out.append(f"{band} coverage of {rid} {a:.0f}-{b:.0f} m: {cov['covered_m']:.0f} m covered; gaps: {txt}")  # fmt: skip
    for n in s.get("notes", []):
        out.append(f"note: {n}")
    if s.get("models"):
        out.append(f"RGB models: {', '.join(s['models'])}")
    for w in s["warnings"][:10]:
        out.append(f"warning: {w}")
    if s.get("skipped_inputs"):
        out.append(
            f"skipped: {len(s['skipped_inputs'])} unreadable input(s) reported above; the rest "
            f"was processed (exit status {EXIT_SKIPPED})"
        )
    out.append("outputs:")
    out.append(f"  store   {s['store']}")
    for k, v in s["outputs"].items():
        if isinstance(v, list):
            v = f"{len(v)} files in {Path(run_dir / v[0]).parent}" if v else "none"
        else:
            v = str(run_dir / v)
        out.append(f"  {k:7s} {v}")
    return "\n".join(out)
