"""Stage ``poses``: read the logs, tie every camera clock to the reference log, pose every frame.

For each stream of the flight (see :mod:`survey.flight`) this writes a
:class:`~survey.process.records.StreamPoses`: the time and pose of every frame (video frames
from the SRT's frame clock, stills and thermal files from their EXIF times), the camera model,
and how the clock was tied (method, offset, 1-sigma). Frames that cannot be located keep a
reason (a gap in the log, no fix, a clock that could not be tied, an unreadable file) and are
counted in the run summary. Nothing is dropped here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from survey.config import Config
from survey.flight import FlightFolder, LogFile, MediaStream
from survey.process.cameras import CameraError, thermal_camera, video_camera, video_info
from survey.process.records import CameraSpec, StreamPoses, save_json

__all__ = ["compute_poses", "read_reference_log"]

log = logging.getLogger(__name__)


def read_reference_log(
    flight: FlightFolder, cfg: Config, warnings: list[str]
) -> tuple[LogFile, Any] | None:
    """Read every log; return the reference one (``[process] log`` or the best) and its track.

    A log that cannot be read is reported in ``warnings`` (naming the file and the place) and
    skipped; the others are still used.
    """
    from survey.telemetry.errors import TelemetryError

    want = cfg.process.log
    best: tuple[float, LogFile, Any] | None = None
    for lf in flight.logs:
        if want and Path(want) != lf.path.relative_to(flight.root) and Path(want) != lf.path:
            continue
        try:
            tr = _read_track(lf.path, cfg)
        except TelemetryError as exc:
            warnings.append(f"log skipped: {exc}")
            continue
        warnings.extend(f"{lf.path.name}: {w}" for w in tr.warnings)
        score = float(tr.position_ok.sum())
        score += 0.5 * len(tr) * (np.isfinite(tr.gimbal_pitch_deg).any())
        score += 0.25 * len(tr) * (np.isfinite(tr.yaw_deg).any())
        if best is None or score > best[0]:
            best = (score, lf, tr)
    if want and best is None:
        from survey.flight import FlightError

        raise FlightError(
            f"[process] log = {want!r} is not a readable log of this flight folder "
            f"(logs: {', '.join(str(lf.path.relative_to(flight.root)) for lf in flight.logs)})",
            path=flight.root,
        )
    return None if best is None else (best[1], best[2])


def _read_track(path: Path, cfg: Config) -> Any:
    from survey.telemetry.read import read_track

    return read_track(path, config=cfg.telemetry)


def _velocity_ned(track: Any, t: np.ndarray, cfg: Config) -> np.ndarray:
    """(N, 3) NED velocity by central differences of the interpolated positions."""
    from survey.telemetry.interp import pose_at

    dt = 0.25
    a = pose_at(track, t - dt, cfg.telemetry)
    b = pose_at(track, t + dt, cfg.telemetry)
    lat0 = np.radians(np.nan_to_num(0.5 * (a.lat_deg + b.lat_deg)))
    r = 6371008.8
    vn = np.radians(b.lat_deg - a.lat_deg) * r / (2 * dt)
    ve = np.radians(b.lon_deg - a.lon_deg) * r * np.cos(lat0) / (2 * dt)
    vd = -(b.alt_m - a.alt_m) / (2 * dt)
    v = np.stack([vn, ve, vd], -1)
    return np.where(np.isfinite(v), v, 0.0)


def _nearest_int(track: Any, name: str, t: np.ndarray) -> np.ndarray:
    vals = getattr(track, name)
    if len(track) == 0:
        return np.full(t.size, -1)
    i = np.clip(np.searchsorted(track.t_s, t), 1, len(track) - 1)
    j = np.where(np.abs(track.t_s[i - 1] - t) <= np.abs(track.t_s[i] - t), i - 1, i)
    return vals[j].astype(np.int64)


def _heights(track: Any, poses: Any, cfg: Config) -> tuple[np.ndarray, str, list[str]]:
    """Camera heights and their reference for the configured ground (see ``[process] height``)."""
    mode = cfg.process.height
    flat = cfg.process.ground == "flat"
    if mode == "auto":
        mode = "relative" if flat else "absolute"
    notes: list[str] = []
    if mode == "relative":
        rel = poses.rel_alt_m
        if np.isfinite(rel).any():
            return rel, "takeoff", notes
        notes.append("the log has no height above take-off: absolute heights used")
    if poses.alt_ref in ("unknown", "takeoff") and mode == "absolute":
        notes.append(f"the log's altitude reference is {poses.alt_ref!r}")
    return poses.alt_m, poses.alt_ref if poses.alt_ref != "unknown" else "msl", notes


def _assemble(
    stream: MediaStream,
    flight: FlightFolder,
    camera: Any,
    track: Any,
    t: np.ndarray,
    file_index: np.ndarray,
    frame: np.ndarray,
    extra_bad: np.ndarray,
    extra_reason: np.ndarray,
    cfg: Config,
    sync: dict[str, Any],
    warnings: list[str],
    fps: float = float("nan"),
    gimbal_track: tuple[Any, np.ndarray] | None = None,
) -> StreamPoses:
    """Interpolate ``track`` at times ``t`` and pack a :class:`StreamPoses`."""
    from survey.telemetry.interp import pose_at

    p = pose_at(track, t, cfg.telemetry)
    yaw, pitch, roll = p.gimbal_yaw_deg, p.gimbal_pitch_deg, p.gimbal_roll_deg
    ok = p.ok.copy()
    reason = p.reason.astype(object)
    if gimbal_track is not None:  # the log lacks gimbal angles: take the media's own
        gt, tg = gimbal_track
        g = pose_at(gt, tg, cfg.telemetry)
        yaw, pitch, roll = g.gimbal_yaw_deg, g.gimbal_pitch_deg, g.gimbal_roll_deg
    if track.gimbal_mode == "relative":
        from geo.rotation import euler_zyx_from_matrix, rotation_ned_from_gimbal

        R = rotation_ned_from_gimbal(
            yaw, pitch, roll, "relative", p.yaw_deg, p.pitch_deg, p.roll_deg
        )
        yaw, pitch, roll = euler_zyx_from_matrix(R)
    no_att = ~(np.isfinite(yaw) & np.isfinite(pitch) & np.isfinite(roll))
    reason = np.where(ok & no_att, "no camera orientation (gimbal angles) at this time", reason)
    ok &= ~no_att
    reason = np.where(extra_bad, extra_reason, reason)
    ok &= ~extra_bad
    alt, alt_ref, notes = _heights(track, p, cfg)
    warnings.extend(f"{stream.stream_id}: {n}" for n in notes)
    v = _velocity_ned(track, t, cfg)
    fix = _nearest_int(track, "fix_type", t)
    return StreamPoses.build(
        stream_id=stream.stream_id,
        kind=stream.kind,
        files=tuple(str(f.path.relative_to(flight.root)) for f in stream.files),
        camera=CameraSpec.of(camera),
        alt_ref=alt_ref,
        file_index=file_index,
        frame=frame,
        t_s=t,
        lat_deg=p.lat_deg,
        lon_deg=p.lon_deg,
        alt_m=alt,
        yaw_deg=yaw,
        pitch_deg=pitch,
        roll_deg=roll,
        vehicle_yaw_deg=p.yaw_deg,
        vehicle_pitch_deg=p.pitch_deg,
        vehicle_roll_deg=p.roll_deg,
        vn_mps=v[:, 0],
        ve_mps=v[:, 1],
        vd_mps=v[:, 2],
        fix_type=fix,
        ok=ok,
        reason=np.where(ok, "", reason).astype(str),
        fps=fps,
        sync=sync,
        warnings=tuple(w for w in warnings if w.startswith(stream.stream_id)),
    )


def _sync_dict(off: Any) -> dict[str, Any]:
    return {
        "method": off.method,
        "offset_s": off.offset_s,
        "rate": off.rate,
        "sigma_s": off.sigma_s,
        "n_used": off.n_used,
    }


def _video_stream(
    stream: MediaStream,
    flight: FlightFolder,
    ref: Any,
    cfg: Config,
    stills: list[Path],
    warnings: list[str],
) -> StreamPoses:
    from survey.telemetry.errors import TelemetryError, TimeSyncError
    from survey.telemetry.sync import srt_frame_clock, video_wall_clock

    mf = stream.files[0]
    info = video_info(mf.path)
    srt = None
    if mf.sidecar is not None:
        try:
            srt = _read_track(mf.sidecar, cfg)
        except TelemetryError as exc:
            warnings.append(f"{stream.stream_id}: SRT unusable ({exc})")
    t_video = np.arange(info.n_frames) / (info.fps if np.isfinite(info.fps) else 30.0)
    f35 = None
    embedded = None
    if srt is None and mf.embedded in ("gopro_gpmf", "misb_klv_ts", "dji_meta"):
        try:  # telemetry inside the video: already on the video's clock
            embedded = _read_track(mf.path, cfg)
            warnings.extend(f"{stream.stream_id}: {w}" for w in embedded.warnings)
        except TelemetryError as exc:
            warnings.append(f"{stream.stream_id}: embedded telemetry unusable ({exc})")
    if srt is not None:
        try:
            fc = srt_frame_clock(srt)
            if abs(fc.n_frames - info.n_frames) <= max(2, 0.01 * info.n_frames):
                t_video = fc.time_of(np.arange(info.n_frames))
            else:  # an old 1 Hz SRT numbers subtitles, not frames
                t_video = fc.t0_s + np.arange(info.n_frames) / info.fps
        except TimeSyncError as exc:
            warnings.append(f"{stream.stream_id}: {exc.message}")
        fl = srt.extra.get("focal_len_mm")
        if fl is not None and np.isfinite(fl).any():
            f35 = float(np.nanmedian(fl))
    cam, cw = video_camera(
        info, mf.path, stills=stills, srt_f35_mm=f35, setting=cfg.process.video_camera,
        flight_root=flight.root,
    )  # fmt: skip
    warnings.extend(f"{stream.stream_id}: {w}" for w in cw)
    n = info.n_frames
    frames = np.arange(n)
    fi = np.zeros(n, np.int32)
    nobad, noreason = np.zeros(n, bool), np.full(n, "", object)
    use_log = ref is not None and cfg.process.pose_source != "media"
    if use_log:
        from survey.telemetry.timesync import sync_video

        try:
            own = srt if srt is not None else embedded
            off = sync_video(own, ref, video_path=mf.path, config=cfg.telemetry)
            gim = None
            if not np.isfinite(ref.gimbal_pitch_deg).any() and own is not None:
                gim = (own, t_video)
            return _assemble(
                stream, flight, cam, ref, off.apply(t_video), fi, frames, nobad, noreason,
                cfg, _sync_dict(off), warnings, info.fps, gim,
            )  # fmt: skip
        except TimeSyncError as exc:
            warnings.append(
                f"{stream.stream_id}: clock not tied to the log ({exc.message})"
                + ("; the SRT's own positions and angles are used" if srt is not None else "")
                + (
                    "; the video's embedded track is used"
                    if srt is None and embedded is not None
                    else ""
                )
            )
            if srt is None and embedded is None:
                bad = np.ones(n, bool)
                why = np.full(n, f"clock not tied to the log: {exc.message}", object)
                return _assemble(
                    stream, flight, cam, ref, t_video, fi, frames, bad, why, cfg,
                    {"method": "failed"}, warnings, info.fps,
                )  # fmt: skip
    if srt is None and embedded is not None:
        sync = {"method": f"embedded {embedded.kind} track (video clock)", "offset_s": 0.0,
                "sigma_s": 0.0}  # fmt: skip
        return _assemble(
            stream, flight, cam, embedded, t_video, fi, frames, nobad, noreason, cfg, sync,
            warnings, info.fps,
        )  # fmt: skip
    if srt is None:
        from survey.flight import FlightError

        raise FlightError("video without SRT and without a usable flight log", path=mf.path)
    # the SRT's own positions; times on the camera's wall clock when it has one
    sync = {"method": "SRT positions (no log)", "offset_s": 0.0, "sigma_s": 0.0}
    p_track = srt
    try:
        wall = video_wall_clock(srt)
        sync = {**_sync_dict(wall), "method": "SRT wall clock (camera local time)"}
    except TimeSyncError:
        wall = None
    poses = _assemble(
        stream, flight, cam, p_track, t_video, fi, frames, nobad, noreason, cfg, sync,
        warnings, info.fps,
    )  # fmt: skip
    if wall is not None:
        import dataclasses

        poses = dataclasses.replace(poses, t_s=wall.apply(t_video))
    return poses


def _photo_stream(
    stream: MediaStream, flight: FlightFolder, ref: Any, cfg: Config, warnings: list[str]
) -> StreamPoses:
    """Stills or thermal images: EXIF/XMP times and poses, clocks tied to the log."""
    from survey.telemetry.errors import TelemetryError, TimeSyncError
    from survey.telemetry.photos import photos_to_track, read_photo

    metas, good = [], []
    n = stream.n_files
    bad = np.zeros(n, bool)
    why = np.full(n, "", object)
    for i, mf in enumerate(stream.files):
        try:
            metas.append(read_photo(mf.path))
            good.append(i)
        except TelemetryError as exc:
            bad[i], why[i] = True, f"unreadable image metadata: {exc.message}"
            warnings.append(f"{stream.stream_id}: {exc}")
    cam = _stream_camera(stream, cfg, good)
    t_cam = np.full(n, np.nan)
    if not metas:
        return _assemble(
            stream, flight, cam, ref, np.zeros(n), np.arange(n, dtype=np.int32),
            np.full(n, -1), bad, why, cfg, {"method": "failed"}, warnings,
        )  # fmt: skip
    t_cam[good] = [m.t_s for m in metas]
    own = photos_to_track(metas, source=str(stream.files[0].path.parent))
    use_log = ref is not None and cfg.process.pose_source != "media"
    if use_log:
        from survey.telemetry.timesync import sync_photos

        try:
            off = sync_photos(own, ref, cfg.telemetry)
            t = np.where(np.isfinite(t_cam), off.apply(t_cam), ref.t_s[0])
            gim = None
            if not np.isfinite(ref.gimbal_pitch_deg).any():
                gim = (own, np.where(np.isfinite(t_cam), t_cam, own.t_s[0]))
            return _assemble(
                stream, flight, cam, ref, t, np.arange(n, dtype=np.int32), np.full(n, -1),
                bad | ~np.isfinite(t_cam), why, cfg, _sync_dict(off), warnings, gimbal_track=gim,
            )  # fmt: skip
        except TimeSyncError as exc:
            warnings.append(
                f"{stream.stream_id}: clock not tied to the log ({exc.message}); the images' "
                "own positions and angles are used"
            )
    t = np.where(np.isfinite(t_cam), t_cam, own.t_s[0])
    return _assemble(
        stream, flight, cam, own, t, np.arange(n, dtype=np.int32), np.full(n, -1),
        bad | ~np.isfinite(t_cam), why, cfg,
        {"method": "own EXIF/XMP positions (no log)", "offset_s": 0.0, "sigma_s": 0.0}, warnings,
    )  # fmt: skip


def _stream_camera(stream: MediaStream, cfg: Config, good: list[int]) -> Any:
    from survey.process.cameras import still_camera

    if not good:
        raise CameraError("no readable image in the stream", path=stream.files[0].path)
    path = stream.files[good[0]].path
    if stream.kind == "still":
        return still_camera(path)
    from thermal import read_thermal
    from thermal.errors import ThermalError

    errors: list[str] = []
    for i in good:  # the first image that decodes; a damaged one is named and skipped here
        path = stream.files[i].path
        try:
            return thermal_camera(path, read_thermal(path), cfg.process.thermal_hfov_deg)
        except ThermalError as exc:
            errors.append(str(exc))
            if len(errors) >= 5:
                break
    raise CameraError(
        f"no readable thermal image among the first {len(errors)} ({'; '.join(errors)})",
        path=stream.files[good[0]].path,
    )


def compute_poses(
    flight: FlightFolder, cfg: Config, out: Path, progress: Any = None
) -> dict[str, Any]:
    """Write one :class:`StreamPoses` per stream into ``out``; returns the stage summary.

    ``progress(iterable, total=, unit=)`` wraps the loop over streams (a progress bar)."""
    warnings: list[str] = []
    refd = read_reference_log(flight, cfg, warnings)
    ref = refd[1] if refd else None
    if ref is None and flight.logs:
        warnings.append("no flight log could be read: poses come from the media's own metadata")
    streams = flight.streams()
    stills = [f.path for s in streams if s.kind == "still" for f in s.files[:3]]
    summary: dict[str, Any] = {
        "reference_log": str(refd[0].path.relative_to(flight.root)) if refd else None,
        "streams": {},
        "warnings": warnings,
    }
    bar = progress or (lambda it, **kw: it)
    for s in bar(streams, total=len(streams), unit="stream"):
        try:
            if s.kind == "video":
                sp = _video_stream(s, flight, ref, cfg, stills, warnings)
            else:
                sp = _photo_stream(s, flight, ref, cfg, warnings)
        except CameraError as exc:
            warnings.append(f"{s.stream_id} not analysed: {exc}")
            summary["streams"][s.stream_id] = {"kind": s.kind, "error": str(exc)}
            continue
        sp.save(out)
        after = np.char.find(sp.reason.astype(str), "after the last sample") >= 0
        if refd is not None and after.any() and sp.sync.get("method") != "failed":
            dt = float(np.nanmax(sp.t_s[after]) - np.nanmax(refd[1].t_s))
            warnings.append(
                f"{refd[0].path}: the log ends {dt:.1f} s before the last frame of "
                f"{s.stream_id} ({int(after.sum())} frames after its end: a truncated or "
                "stopped log)"
            )
        reasons: dict[str, int] = {}
        for r in sp.reason[~sp.ok]:
            reasons[str(r)] = reasons.get(str(r), 0) + 1
        summary["streams"][s.stream_id] = {
            "kind": s.kind,
            "files": len(sp.files),
            "frames": len(sp),
            "located": int(sp.ok.sum()),
            "unlocatable": reasons,
            "sync": sp.sync,
            "camera": sp.camera.__dict__,
            "alt_ref": sp.alt_ref,
        }
        log.info("%s: %d of %d frames located", s.stream_id, int(sp.ok.sum()), len(sp))
    save_json(out / "poses.json", summary)
    return summary
