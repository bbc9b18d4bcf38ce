"""Camera geometry of the simulator: rotations, pinhole + Brown-Conrady intrinsics, projection.

This is the simulator's own implementation of the project's geometry conventions (see the
README, "Shared geometry conventions"); it deliberately shares no code with ``geo`` so that
``geo``'s pixel-to-ground code can be checked against it.

- Attitudes are NED, Z-Y-X: ``R_ned_from_body = Rz(yaw) @ Ry(pitch) @ Rx(roll)``; yaw clockwise
  from true north, pitch positive nose-up, roll positive right-side-down.
- Gimbal angles are absolute (same convention). At yaw = pitch = roll = 0 the camera looks along
  the gimbal's forward axis: :data:`R_GIMBAL_FROM_CAM` (columns = camera x, y, z in gimbal axes).
- Camera axes are OpenCV's (x right, y down, z forward); intrinsics fx, fy, cx, cy with pixel
  centres at integer coordinates; distortion (k1, k2, p1, p2, k3) as in ``cv2.projectPoints``.

Examples
--------
A nadir camera (gimbal pitch -90, yaw 0) sees north at the top of the image and east at the
right:

>>> import numpy as np
>>> R = camera_rotation(0.0, -90.0, 0.0)
>>> (np.round(R @ [0, 0, 1], 6) + 0.0).tolist()   # optical axis -> down
[0.0, 0.0, 1.0]
>>> (np.round(R @ [0, -1, 0], 6) + 0.0).tolist()  # image "up" -> north
[1.0, 0.0, 0.0]
>>> (np.round(R @ [1, 0, 0], 6) + 0.0).tolist()   # image "right" -> east
[0.0, 1.0, 0.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CameraModel",
    "R_GIMBAL_FROM_CAM",
    "camera_rotation",
    "rot_x",
    "rot_y",
    "rot_z",
    "rotation_ypr",
    "ypr_from_rotation",
]

F64 = NDArray[np.float64]

#: Columns are the camera's x (right), y (down), z (optical axis) expressed in gimbal axes
#: (x forward, y right, z down).
R_GIMBAL_FROM_CAM: F64 = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def rot_x(deg: ArrayLike) -> F64:
    """Rotation about x by ``deg`` (right-handed); shape (..., 3, 3)."""
    a = np.radians(np.asarray(deg, dtype=np.float64))
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], axis=-1).reshape(a.shape + (3, 3))


def rot_y(deg: ArrayLike) -> F64:
    """Rotation about y by ``deg`` (right-handed); shape (..., 3, 3)."""
    a = np.radians(np.asarray(deg, dtype=np.float64))
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], axis=-1).reshape(a.shape + (3, 3))


def rot_z(deg: ArrayLike) -> F64:
    """Rotation about z by ``deg`` (right-handed); shape (..., 3, 3)."""
    a = np.radians(np.asarray(deg, dtype=np.float64))
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], axis=-1).reshape(a.shape + (3, 3))


def rotation_ypr(yaw_deg: ArrayLike, pitch_deg: ArrayLike, roll_deg: ArrayLike) -> F64:
    """``Rz(yaw) @ Ry(pitch) @ Rx(roll)``: NED from body (or gimbal) axes; vectorized.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(rotation_ypr(90.0, 0.0, 0.0) @ [1, 0, 0], 6).tolist()  # nose east
    [0.0, 1.0, 0.0]
    >>> np.round(rotation_ypr(0.0, 10.0, 0.0) @ [1, 0, 0], 4).tolist()  # nose up: -z (NED)
    [0.9848, 0.0, -0.1736]
    """
    return rot_z(yaw_deg) @ rot_y(pitch_deg) @ rot_x(roll_deg)


def ypr_from_rotation(R: ArrayLike) -> tuple[F64, F64, F64]:
    """Inverse of :func:`rotation_ypr`: (yaw, pitch, roll) in degrees, yaw in (-180, 180].

    Examples
    --------
    >>> y, p, r = ypr_from_rotation(rotation_ypr(-30.0, -60.0, 2.0))
    >>> [round(float(v), 9) for v in (y, p, r)]
    [-30.0, -60.0, 2.0]
    """
    m = np.asarray(R, dtype=np.float64)
    pitch = np.degrees(np.arcsin(np.clip(-m[..., 2, 0], -1.0, 1.0)))
    yaw = np.degrees(np.arctan2(m[..., 1, 0], m[..., 0, 0]))
    roll = np.degrees(np.arctan2(m[..., 2, 1], m[..., 2, 2]))
    return yaw, pitch, roll


def camera_rotation(
    yaw_deg: ArrayLike,
    pitch_deg: ArrayLike,
    roll_deg: ArrayLike,
    boresight_ypr_deg: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> F64:
    """``R_ned_from_cam`` for absolute gimbal angles and a camera boresight offset.

    The boresight is the camera's small mounting rotation in the gimbal frame, given as
    (yaw, pitch, roll) in the same Z-Y-X convention:
    ``R_ned_from_cam = R(gimbal) @ R(boresight) @ R_GIMBAL_FROM_CAM``.
    """
    bore = rotation_ypr(*boresight_ypr_deg)
    return rotation_ypr(yaw_deg, pitch_deg, roll_deg) @ bore @ R_GIMBAL_FROM_CAM


@dataclass(frozen=True)
class CameraModel:
    """A pinhole camera with Brown-Conrady distortion (OpenCV conventions) and its metadata.

    Examples
    --------
    Nadir footprint width = altitude x sensor width / focal length (hand-computed):

    >>> cam = CameraModel.preset("rgb-video-720")
    >>> round(30.0 * cam.sensor_width_mm / cam.focal_length_mm, 3)
    42.667
    >>> round(float(cam.project([[0.0, 0.0, 10.0]])[0, 0]), 3) == round(cam.cx_px, 3)
    True
    """

    name: str
    kind: str  # "rgb" or "thermal"
    width_px: int
    height_px: int
    fx_px: float
    fy_px: float
    cx_px: float
    cy_px: float
    k1: float = 0.0
    k2: float = 0.0
    p1: float = 0.0
    p2: float = 0.0
    k3: float = 0.0
    pixel_pitch_um: float = 1.6
    make: str = "DJI"
    model: str = "SIM"
    fnumber: float = 2.8

    # ---- metadata derived from the intrinsics --------------------------------------------
    @property
    def focal_length_mm(self) -> float:
        """Physical focal length (fx times the pixel pitch)."""
        return self.fx_px * self.pixel_pitch_um / 1000.0

    @property
    def sensor_width_mm(self) -> float:
        """Width of the active pixel area."""
        return self.width_px * self.pixel_pitch_um / 1000.0

    @property
    def focal_35mm(self) -> float:
        """35 mm-equivalent focal length (diagonal crop factor)."""
        diag = math.hypot(self.width_px, self.height_px) * self.pixel_pitch_um / 1000.0
        return self.focal_length_mm * math.hypot(36.0, 24.0) / diag

    @property
    def hfov_deg(self) -> float:
        """Horizontal field of view of the undistorted pinhole."""
        return math.degrees(2 * math.atan(self.width_px / 2 / self.fx_px))

    @property
    def K(self) -> F64:
        """The 3x3 intrinsic matrix."""
        return np.array([[self.fx_px, 0, self.cx_px], [0, self.fy_px, self.cy_px], [0, 0, 1.0]])

    @property
    def dist(self) -> F64:
        """Distortion coefficients in OpenCV order (k1, k2, p1, p2, k3)."""
        return np.array([self.k1, self.k2, self.p1, self.p2, self.k3])

    def scaled(self, width_px: int, height_px: int, name: str | None = None) -> CameraModel:
        """The same lens and sensor read out at another resolution (binning/cropping-free)."""
        sx, sy = width_px / self.width_px, height_px / self.height_px
        return replace(
            self,
            name=name or f"{self.name}-{width_px}x{height_px}",
            width_px=width_px,
            height_px=height_px,
            fx_px=self.fx_px * sx,
            fy_px=self.fy_px * sy,
            cx_px=(self.cx_px + 0.5) * sx - 0.5,
            cy_px=(self.cy_px + 0.5) * sy - 0.5,
            pixel_pitch_um=self.pixel_pitch_um / sx,
        )

    def video_mode(self, width_px: int, height_px: int) -> CameraModel:
        """The camera read out as video: the full sensor width scaled to ``width_px`` and a
        centred crop of the rows to the video's aspect ratio."""
        s = width_px / self.width_px
        crop_rows = (self.height_px - height_px / s) / 2
        return replace(
            self,
            name=f"rgb-video-{height_px}",
            width_px=width_px,
            height_px=height_px,
            fx_px=self.fx_px * s,
            fy_px=self.fy_px * s,
            cx_px=(self.cx_px + 0.5) * s - 0.5,
            cy_px=(self.cy_px - crop_rows + 0.5) * s - 0.5,
            pixel_pitch_um=self.pixel_pitch_um / s,
        )

    # ---- geometry ----------------------------------------------------------------------------
    def distort(self, xn: ArrayLike, yn: ArrayLike) -> tuple[F64, F64]:
        """Normalized undistorted coordinates (x/z, y/z) -> pixel coordinates."""
        x = np.asarray(xn, dtype=np.float64)
        y = np.asarray(yn, dtype=np.float64)
        r2 = x * x + y * y
        radial = 1 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3))
        xd = x * radial + 2 * self.p1 * x * y + self.p2 * (r2 + 2 * x * x)
        yd = y * radial + self.p1 * (r2 + 2 * y * y) + 2 * self.p2 * x * y
        return self.fx_px * xd + self.cx_px, self.fy_px * yd + self.cy_px

    def undistort(self, u: ArrayLike, v: ArrayLike, iterations: int = 20) -> tuple[F64, F64]:
        """Pixel coordinates -> normalized undistorted coordinates (Newton iterations)."""
        ud = (np.asarray(u, dtype=np.float64) - self.cx_px) / self.fx_px
        vd = (np.asarray(v, dtype=np.float64) - self.cy_px) / self.fy_px
        x, y = ud.copy(), vd.copy()
        k1, k2, k3, p1, p2 = self.k1, self.k2, self.k3, self.p1, self.p2
        for _ in range(iterations):
            r2 = x * x + y * y
            rad = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
            drad = k1 + r2 * (2 * k2 + 3 * k3 * r2)  # d(rad)/d(r2)
            fx = x * rad + 2 * p1 * x * y + p2 * (r2 + 2 * x * x) - ud
            fy = y * rad + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y - vd
            j11 = rad + 2 * x * x * drad + 2 * p1 * y + 6 * p2 * x
            j12 = 2 * x * y * drad + 2 * p1 * x + 2 * p2 * y
            j21 = 2 * x * y * drad + 2 * p1 * x + 2 * p2 * y
            j22 = rad + 2 * y * y * drad + 6 * p1 * y + 2 * p2 * x
            det = j11 * j22 - j12 * j21
            dx = (j22 * fx - j12 * fy) / det
            dy = (j11 * fy - j21 * fx) / det
            x -= dx
            y -= dy
            if float(np.max(np.abs(dx)) + np.max(np.abs(dy), initial=0.0)) < 1e-14:
                break
        return x, y

    def project(self, points_cam: ArrayLike) -> F64:
        """Points in camera axes (N, 3) -> pixels (N, 2); points behind the camera get NaN."""
        p = np.asarray(points_cam, dtype=np.float64).reshape(-1, 3)
        z = np.where(p[:, 2] > 1e-9, p[:, 2], np.nan)
        u, v = self.distort(p[:, 0] / z, p[:, 1] / z)
        return np.stack([u, v], axis=1)

    def rays(self, u: ArrayLike, v: ArrayLike) -> F64:
        """Unit ray directions in camera axes for pixels (u, v); shape (..., 3)."""
        x, y = self.undistort(u, v)
        d = np.stack([x, y, np.ones_like(x)], axis=-1)
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    def to_dict(self) -> dict[str, float | int | str]:
        """Intrinsics and metadata as a JSON-ready dict (OpenCV conventions)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "width_px": self.width_px,
            "height_px": self.height_px,
            "fx_px": self.fx_px,
            "fy_px": self.fy_px,
            "cx_px": self.cx_px,
            "cy_px": self.cy_px,
            "k1": self.k1,
            "k2": self.k2,
            "p1": self.p1,
            "p2": self.p2,
            "k3": self.k3,
            "pixel_pitch_um": self.pixel_pitch_um,
            "focal_length_mm": self.focal_length_mm,
            "focal_35mm": self.focal_35mm,
            "hfov_deg": self.hfov_deg,
            "make": self.make,
            "model": self.model,
        }

    @staticmethod
    def preset(name: str) -> CameraModel:
        """A named camera: ``rgb-still`` (12 MP), ``rgb-video-1080``, ``rgb-video-720``,
        ``thermal-640`` (640x512, 12 um, 9.1 mm). Unknown names raise ``KeyError``."""
        if name not in _PRESETS:
            raise KeyError(f"unknown camera preset {name!r}; known: {', '.join(_PRESETS)}")
        return _PRESETS[name]


# A 1/2" 12 MP wide camera, 4.5 mm (24 mm equivalent, 84 deg diagonal FOV), mildly distorted,
# principal point a few pixels off centre. Video modes read the full width, 16:9 crop.
_STILL = CameraModel(
    name="rgb-still",
    kind="rgb",
    width_px=4000,
    height_px=3000,
    fx_px=2812.5,
    fy_px=2812.5,
    cx_px=2006.3,
    cy_px=1491.8,
    k1=-0.0125,
    k2=0.0061,
    p1=0.00012,
    p2=-0.00008,
    k3=-0.0011,
    pixel_pitch_um=1.6,
    model="M30T",
    fnumber=2.8,
)


_PRESETS: dict[str, CameraModel] = {
    "rgb-still": _STILL,
    "rgb-video-1080": _STILL.video_mode(1920, 1080),
    "rgb-video-720": _STILL.video_mode(1280, 720),
    # A 640x512 12 um microbolometer behind a 9.1 mm germanium lens (HFOV about 46 deg).
    "thermal-640": CameraModel(
        name="thermal-640",
        kind="thermal",
        width_px=640,
        height_px=512,
        fx_px=758.3,
        fy_px=758.3,
        cx_px=321.4,
        cy_px=254.2,
        k1=-0.061,
        k2=0.034,
        p1=0.0004,
        p2=0.0002,
        k3=0.0,
        pixel_pitch_um=12.0,
        make="FLIR Systems AB",
        model="SIM Boson 640",
        fnumber=1.0,
    ),
}
