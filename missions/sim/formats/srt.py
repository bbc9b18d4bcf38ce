"""DJI video subtitles (``.SRT``) in the modern enterprise layout (M30 / Mavic 3 Enterprise):

    1
    00:00:00,000 --> 00:00:00,033
    <font size="28">FrameCnt: 1, DiffTime: 33ms
    2024-06-12 09:30:00.123
    [iso: 100] [shutter: 1/1000.0] [fnum: 2.8] [ev: 0] [color_md: default] [focal_len: 24.00] \
[dzoom_ratio: 1.00], [latitude: 48.195432] [longitude: 15.612345] [rel_alt: 25.123 abs_alt: 290.456] \
[gb_yaw: 45.3 gb_pitch: -90.0 gb_roll: 0.0] </font>

One block per video frame. The date line is the camera's local wall clock (no zone, as DJI
writes it); positions have 6 decimals, altitudes 3, gimbal angles (absolute) 1.

Examples
--------
>>> import io
>>> buf = io.StringIO()
>>> w = SrtWriter(buf, fps=30.0)
>>> w.frame(0, camera_time_s=1718184600.0, utc_offset_h=0.0, lat_deg=48.1, lon_deg=15.2,
...         rel_alt_m=25.0, abs_alt_m=290.0, gimbal_ypr_deg=(45.0, -90.0, 0.0))
>>> print(buf.getvalue().splitlines()[3])
2024-06-12 09:30:00.000
"""

from __future__ import annotations

from typing import TextIO

from missions.sim.formats.photo import camera_datetime

__all__ = ["SrtWriter"]


def _tc(t: float) -> str:
    ms = int(round(t * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


class SrtWriter:
    """Streams SRT blocks to an open text file."""

    def __init__(
        self,
        out: TextIO,
        fps: float,
        *,
        iso: int = 100,
        shutter: str = "1/1000.0",
        fnum: float = 2.8,
        focal_35mm: float = 24.0,
    ) -> None:
        self.out, self.fps = out, fps
        self.iso, self.shutter, self.fnum, self.focal = iso, shutter, fnum, focal_35mm
        self._last_ms: int | None = None

    def frame(
        self,
        index: int,
        *,
        camera_time_s: float,
        utc_offset_h: float,
        lat_deg: float,
        lon_deg: float,
        rel_alt_m: float,
        abs_alt_m: float,
        gimbal_ypr_deg: tuple[float, float, float],
    ) -> None:
        """Write the block of video frame ``index`` (0-based)."""
        t0, t1 = index / self.fps, (index + 1) / self.fps
        ms = int(round(t0 * 1000))
        diff = int(round(1000 / self.fps)) if self._last_ms is None else ms - self._last_ms
        self._last_ms = ms
        wall = camera_datetime(camera_time_s, utc_offset_h)
        stamp = wall.strftime("%Y-%m-%d %H:%M:%S") + f".{wall.microsecond // 1000:03d}"
        gy, gp, gr = gimbal_ypr_deg
        self.out.write(
            f"{index + 1}\n{_tc(t0)} --> {_tc(t1)}\n"
            f'<font size="28">FrameCnt: {index + 1}, DiffTime: {diff}ms\n'
            f"{stamp}\n"
            f"[iso: {self.iso}] [shutter: {self.shutter}] [fnum: {self.fnum:.1f}] [ev: 0] "
            f"[color_md: default] [focal_len: {self.focal:.2f}] [dzoom_ratio: 1.00], "
            f"[latitude: {lat_deg:.6f}] [longitude: {lon_deg:.6f}] "
            f"[rel_alt: {rel_alt_m:.3f} abs_alt: {abs_alt_m:.3f}] "
            f"[gb_yaw: {gy:.1f} gb_pitch: {gp:.1f} gb_roll: {gr:.1f}] </font>\n\n"
        )
