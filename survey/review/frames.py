"""The frame browser behind ``survey review``: every frame of a run that saw a ground point.

For a point (a click on the map, or a defect's position) every located frame of the run's
streams is tested at once: the point's ground height from the run's ground model, projected
into each frame with the run's own camera model and pose (:meth:`geo.Georeferencer.ground_to_pixels`,
the inverse of how the defects were put on the ground). Frames that see it are ranked best
first — smallest ground sample distance at the point, then nearest the image centre — and come
with the point's pixel and, for a defect, its outline projected into the frame. Stills and
thermal frames are all candidates; of a video, the frames the run analysed (the ``select``
stage's choice; a 30 fps video would give hundreds of near-copies).

Images are served from the run when it saved them (the ``detect`` stage's analysed RGB frames)
and otherwise read from the flight folder (a video frame decoded, a radiometric file turned
into false colour with the run's thermal display range); a thermal frame also answers the
temperature at a pixel.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from survey.errors import SurveyError
from survey.process.records import StreamPoses, stream_ids

__all__ = ["FrameIndex", "FrameNotFoundError", "FrameView"]

log = logging.getLogger(__name__)


class FrameNotFoundError(SurveyError, LookupError):
    """No such stream or frame in the run, or its file cannot be read."""


@dataclass(frozen=True)
class FrameView:
    """One frame that sees the point, and where."""

    stream: str
    row: int
    sensor: str  #: rgb or thermal
    label: str  #: file, or file#frame for a video
    t_s: float
    u_px: float
    v_px: float
    width_px: int
    height_px: int
    gsd_m: float  #: at the point
    range_m: float
    off_centre: float  #: 0 at the principal point, 1 at the edge midpoints
    outline_px: list[list[float]]  #: the defect outline in the frame ([] for a bare point)

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        for k in ("t_s", "u_px", "v_px", "gsd_m", "range_m", "off_centre"):
            d[k] = round(float(d[k]), 4)
        d["image"] = f"api/frame/{self.stream}/{self.row}.jpg"
        return d


class FrameIndex:
    """The located frames of one run, ready to answer "who saw this point"."""

    def __init__(self, run_dir: str | Path, config_toml: str = "") -> None:
        from survey.config import Config, load_config_text

        self.run_dir = Path(run_dir).resolve()
        self.cfg = load_config_text(config_toml, source="run config") if config_toml else Config()
        poses = self.run_dir / "stages" / "poses"
        self._poses_dir = poses
        flight = self.run_dir / "stages" / "discover" / "flight.json"
        try:
            self.flight_root = Path(json.loads(flight.read_text("utf-8"))["root"])
        except (OSError, ValueError, KeyError):
            self.flight_root = Path()
        self.streams: dict[str, StreamPoses] = {}
        self.candidates: dict[str, NDArray[np.intp]] = {}
        if poses.is_dir():
            from survey.process.select import Selection

            sel_dir = self.run_dir / "stages" / "select"
            for sid in stream_ids(poses):
                sp = StreamPoses.load(poses, sid)
                rows = np.flatnonzero(sp.ok)
                if sp.kind == "video":
                    if not (sel_dir / f"{sid}.npz").is_file():
                        continue
                    sel = Selection.load(sel_dir, sid).index
                    rows = sel[sp.ok[sel]]
                if rows.size:
                    self.streams[sid] = sp
                    self.candidates[sid] = rows
        self._lock = threading.Lock()
        self._decode_lock = threading.Lock()
        self._temps: dict[tuple[str, int], NDArray[np.float64]] = {}
        self._display: tuple[float, float] | None = None

    # ----------------------------------------------------------------- geometry
    def _georef(self, sp: StreamPoses, frame: Any) -> Any:
        from survey.process.geometry import georeferencer, ground_surface

        pc = self.cfg.process
        return georeferencer(
            sp.camera.model(), ground_surface(pc, sp.alt_ref, frame), frame, pc.max_range_m
        )

    def frames_seeing(
        self,
        lon_deg: float,
        lat_deg: float,
        *,
        outline_lonlat: list[tuple[float, float]] | None = None,
        limit: int = 24,
    ) -> list[FrameView]:
        """Frames that see the ground point, best first (at most ``limit``)."""
        from geo.frames import LocalFrame

        if not (np.isfinite(lon_deg) and np.isfinite(lat_deg)):
            return []
        frame = LocalFrame.for_lonlat(float(lon_deg), float(lat_deg))
        x, y = (float(v) for v in frame.from_lonlat(lon_deg, lat_deg))
        ring = None
        if outline_lonlat:
            arr = np.asarray(outline_lonlat, float)
            ring = frame.from_lonlat(arr[:, 0], arr[:, 1])
        found: list[FrameView] = []
        for sid, sp in self.streams.items():
            rows = self.candidates[sid]
            g = self._georef(sp, frame)
            z = float(np.asarray(g.ground.height_at(np.array([x]), np.array([y]))).ravel()[0])
            if not np.isfinite(z):
                continue
            state = g.prepare(sp.camera_poses(rows))
            n = len(rows)
            u, v, vis = g.ground_to_pixels(
                state, np.full(n, x), np.full(n, y), np.full(n, z), np.arange(n)
            )
            rng = np.sqrt((state.x_m - x) ** 2 + (state.y_m - y) ** 2 + (state.h_m - z) ** 2)
            vis &= rng <= self.cfg.process.max_range_m
            cam = g.camera
            f = 0.5 * (cam.fx_px + cam.fy_px)
            off = np.hypot(
                (u - cam.cx_px) / (0.5 * cam.width_px), (v - cam.cy_px) / (0.5 * cam.height_px)
            )
            for k in np.flatnonzero(vis):
                outline: list[list[float]] = []
                if ring is not None:
                    m = len(ring[0])
                    zr = np.asarray(g.ground.height_at(ring[0], ring[1]), float).ravel()
                    ur, vr, _ = g.ground_to_pixels(
                        state, ring[0], ring[1], np.nan_to_num(zr, nan=z), np.full(m, k)
                    )
                    outline = [
                        [round(float(a), 2), round(float(b), 2)]
                        for a, b in zip(ur, vr, strict=True)
                    ]
                found.append(
                    FrameView(
                        stream=sid, row=int(rows[k]), sensor=sp.camera.kind, label=sp.label(int(rows[k])),
                        t_s=float(sp.t_s[rows[k]]), u_px=float(u[k]), v_px=float(v[k]),
                        width_px=cam.width_px, height_px=cam.height_px, gsd_m=float(rng[k] / f),
                        range_m=float(rng[k]), off_centre=float(off[k]), outline_px=outline,
                    )
                )  # fmt: skip
        found.sort(key=lambda fv: (fv.gsd_m * (1.0 + 0.25 * fv.off_centre**2), fv.t_s))
        return found[:limit]

    def chainage(self, lon_deg: float, lat_deg: float) -> dict[str, Any] | None:
        """Chainage, offset and side of a ground point on the run's asset (None when the
        run's asset file cannot be read any more)."""
        from geo.chainage import format_chainage

        asset = self._asset()
        if asset is None or not (np.isfinite(lon_deg) and np.isfinite(lat_deg)):
            return None
        x, y = asset.frame.from_lonlat(np.array([lon_deg]), np.array([lat_deg]))
        ref = asset.locate(x, y, max_offset_m=np.inf)
        loc = ref.location
        ch, off = float(loc.chainage_m[0]), float(loc.offset_m[0])
        if not np.isfinite(ch):
            return None
        style = self.cfg.process.chainage_style
        return {
            "route": str(loc.route_id[0]),
            "chainage_m": round(ch, 3),
            "label": str(format_chainage([ch], style)[0]),
            "offset_m": round(off, 3),
            "side": str(loc.side[0]),
            "on_asset": bool(abs(off) <= self.cfg.process.max_offset_m),
        }

    def _asset(self) -> Any:
        if not hasattr(self, "_asset_model"):
            from survey.process.asset import load_asset

            self._asset_model = None
            try:
                d = json.loads((self.run_dir / "stages/discover/flight.json").read_text("utf-8"))
                src = d["asset"]["source"]
                self._asset_model = load_asset(src, self.cfg.process, d["asset"].get("kind"))
            except (OSError, ValueError, KeyError, SurveyError) as exc:
                log.warning("review: the run's asset cannot be loaded (%s); no chainage", exc)
        return self._asset_model

    # ----------------------------------------------------------------- images
    def _stream(self, sid: str, row: int) -> StreamPoses:
        sp = self.streams.get(sid)
        if sp is None or row < 0 or row >= len(sp) or not sp.ok[row]:
            raise FrameNotFoundError(f"no located frame {sid}:{row} in this run")
        return sp

    def display_range(self) -> tuple[float, float]:
        """°C at the ends of the thermal palette: the imagery layer's, else 1st-99th of the
        first thermal frame asked for."""
        if self._display is None:
            from survey.process.imagery import read_imagery_index

            for la in read_imagery_index(self.run_dir / "stages" / "imagery"):
                if la.name == "thermal" and la.display_c is not None:
                    self._display = (float(la.display_c[0]), float(la.display_c[1]))
        return self._display or (np.nan, np.nan)

    def temperature(self, sid: str, row: int) -> NDArray[np.float64]:
        """The thermal frame's temperatures (°C)."""
        sp = self._stream(sid, row)
        if sp.kind != "thermal":
            raise FrameNotFoundError(f"{sid} is not a thermal stream")
        key = (sid, row)
        with self._lock:
            hit = self._temps.get(key)
        if hit is None:
            hit = self._decode(sp, row).temperature_c(self.cfg.process.emissivity)
            with self._lock:
                self._temps[key] = hit
                while len(self._temps) > 16:
                    self._temps.pop(next(iter(self._temps)))
        return hit

    def image_jpeg(self, sid: str, row: int, quality: int = 88) -> bytes:
        """The frame as JPEG (BGR as the camera took it; thermal in false colour)."""
        import cv2

        sp = self._stream(sid, row)
        if sp.kind == "thermal":
            from thermal.palette import colorize, display_range

            temp = self.temperature(sid, row)
            lo, hi = self.display_range()
            if not np.isfinite(lo):
                lo, hi = display_range(temp)
            img = colorize(temp, lo, hi)
        else:
            from survey.process.detect import frame_file

            saved = self.run_dir / "stages" / "detect" / frame_file(sp, row)
            if saved.is_file():
                return saved.read_bytes()
            img = self._decode(sp, row)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:  # pragma: no cover
            raise FrameNotFoundError(f"cannot encode frame {sid}:{row}")
        return bytes(buf)

    def _decode(self, sp: StreamPoses, row: int) -> Any:
        """BGR image (RGB streams) or ThermalFrame, read from the flight folder."""
        from survey.process.frames import FrameReader

        with self._decode_lock:  # one decoder at a time: bounded memory, no shared state
            reader = FrameReader(self.flight_root, sp, np.array([row], np.intp))
            for _r, img in reader:
                if img is not None:
                    return img
        raise FrameNotFoundError(
            reader.failures.get(row, "unreadable frame"), path=self.flight_root / sp.label(row)
        )
