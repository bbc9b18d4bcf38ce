"""Pinhole camera with Brown-Conrady distortion, in OpenCV's conventions.

Pixel coordinates ``(u, v)``: u to the right, v down, **pixel centres at integers** ((0, 0) is
the centre of the top-left pixel). Normalized coordinates ``(x, y) = (X/Z, Y/Z)`` in the camera
frame (x right, y down, z forward). Distortion as in ``cv2.projectPoints`` with
``(k1, k2, p1, p2, k3)``::

    r2 = x^2 + y^2
    radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3
    xd = x radial + 2 p1 x y + p2 (r2 + 2 x^2)
    yd = y radial + p1 (r2 + 2 y^2) + 2 p2 x y
    u = fx xd + cx,   v = fy yd + cy

:meth:`CameraModel.undistort` inverts this with a vectorized Newton iteration; points where the
distortion polynomial folds over (far outside the calibrated field) return NaN.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import CameraModelError

__all__ = ["Boresight", "CameraKind", "CameraModel"]

CameraKind = Literal["rgb", "thermal"]


@dataclass(frozen=True)
class CameraModel:
    """Intrinsics of one camera at one image size.

    Parameters
    ----------
    width_px, height_px : int
        Image size the intrinsics refer to.
    fx_px, fy_px : float
        Focal lengths in pixels.
    cx_px, cy_px : float
        Principal point (OpenCV convention: pixel centres at integers).
    k1, k2, p1, p2, k3 : float
        Brown-Conrady coefficients (OpenCV order and meaning).
    name : str
        Camera name (``"DJI FC6310R"``), for messages and exports.
    kind : {"rgb", "thermal"}
        What the camera records.
    pixel_pitch_um : float, optional
        Physical pixel size, when known (for GSD reports).
    source : str
        Where the intrinsics came from (``"dji-xmp-dewarp"``, ``"exif-35mm"``, ``"table"`` ...).

    Examples
    --------
    >>> cam = CameraModel(1000, 800, 1000.0, 1000.0, 499.5, 399.5)
    >>> cam.project(np.array([[0.1, -0.2, 1.0]]))
    array([[599.5, 199.5]])
    >>> round(cam.hfov_deg, 3)
    53.13
    """

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
    name: str = "camera"
    kind: CameraKind = "rgb"
    pixel_pitch_um: float | None = None
    source: str = "explicit"
    _max_r2: float = field(default=math.inf, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.width_px <= 0 or self.height_px <= 0:
            raise CameraModelError(
                f"image size must be positive, got {self.width_px}x{self.height_px}"
            )
        for attr in ("fx_px", "fy_px"):
            v = getattr(self, attr)
            if not (math.isfinite(v) and v > 0):
                raise CameraModelError(f"{attr} must be a positive finite number, got {v}")
        for attr in ("cx_px", "cy_px", "k1", "k2", "p1", "p2", "k3"):
            if not math.isfinite(getattr(self, attr)):
                raise CameraModelError(f"{attr} must be finite, got {getattr(self, attr)}")
        if self.kind not in ("rgb", "thermal"):
            raise CameraModelError(f"kind must be 'rgb' or 'thermal', got {self.kind!r}")
        object.__setattr__(self, "_max_r2", self._monotonic_r2_limit())

    # ------------------------------------------------------------------ derived values
    @property
    def K(self) -> NDArray[np.float64]:
        """3x3 intrinsic matrix."""
        return np.array(
            [[self.fx_px, 0.0, self.cx_px], [0.0, self.fy_px, self.cy_px], [0.0, 0.0, 1.0]]
        )

    @property
    def dist_coeffs(self) -> NDArray[np.float64]:
        """``(k1, k2, p1, p2, k3)`` as OpenCV wants them."""
        return np.array([self.k1, self.k2, self.p1, self.p2, self.k3])

    @property
    def has_distortion(self) -> bool:
        """True when any distortion coefficient is non-zero."""
        return any((self.k1, self.k2, self.p1, self.p2, self.k3))

    @property
    def hfov_deg(self) -> float:
        """Horizontal field of view of the undistorted pinhole, degrees."""
        return float(np.rad2deg(2 * np.arctan(self.width_px / (2 * self.fx_px))))

    @property
    def vfov_deg(self) -> float:
        """Vertical field of view of the undistorted pinhole, degrees."""
        return float(np.rad2deg(2 * np.arctan(self.height_px / (2 * self.fy_px))))

    def gsd_m(self, range_m: ArrayLike) -> NDArray[np.float64]:
        """Ground sample distance (m/px) at the image centre for a surface normal to the axis.

        Examples
        --------
        >>> CameraModel(640, 512, 1125.0, 1125.0, 319.5, 255.5).gsd_m(60.0).round(4)
        np.float64(0.0533)
        """
        return np.asarray(range_m, dtype=np.float64) / math.sqrt(self.fx_px * self.fy_px)

    def scaled(self, width_px: int, height_px: int) -> CameraModel:
        """The same camera at another image size (a resized or downsampled image).

        Pixel-centre convention: a pixel edge coordinate ``u + 0.5`` scales linearly.

        Examples
        --------
        >>> CameraModel(4000, 3000, 3000.0, 3000.0, 1999.5, 1499.5).scaled(1000, 750).cx_px
        499.5
        """
        sx, sy = width_px / self.width_px, height_px / self.height_px
        return replace(
            self,
            width_px=int(width_px),
            height_px=int(height_px),
            fx_px=self.fx_px * sx,
            fy_px=self.fy_px * sy,
            cx_px=(self.cx_px + 0.5) * sx - 0.5,
            cy_px=(self.cy_px + 0.5) * sy - 0.5,
        )

    # ------------------------------------------------------------------ distortion
    def distort(
        self, x: ArrayLike, y: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Apply distortion to normalized coordinates."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if not self.has_distortion:
            return x, y
        r2 = x * x + y * y
        radial = 1.0 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3))
        xy2 = 2.0 * x * y
        xd = x * radial + self.p1 * xy2 + self.p2 * (r2 + 2.0 * x * x)
        yd = y * radial + self.p1 * (r2 + 2.0 * y * y) + self.p2 * xy2
        return xd, yd

    def undistort(
        self, xd: ArrayLike, yd: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Invert :meth:`distort`; NaN where the model folds over or does not converge.

        The radial part is inverted from a table (linear interpolation), then Newton's method
        on the full model polishes every point (two steps, more for the few that need them).

        Examples
        --------
        >>> cam = CameraModel(100, 100, 80.0, 80.0, 49.5, 49.5, k1=-0.25, k2=0.1, p1=1e-3)
        >>> x, y = cam.undistort(*cam.distort(0.4, -0.3))
        >>> round(float(x), 12), round(float(y), 12)
        (0.4, -0.3)
        """
        xd0, yd0 = np.broadcast_arrays(np.asarray(xd, np.float64), np.asarray(yd, np.float64))
        if not self.has_distortion:
            return xd0.copy(), yd0.copy()
        shape = xd0.shape
        xd, yd = xd0.ravel(), yd0.ravel()
        rd_tab, r_tab = self._radial_table
        rd = np.sqrt(xd * xd + yd * yd)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.interp(rd, rd_tab, r_tab, right=np.nan) / rd
        scale = np.where(rd > 1e-12, scale, 1.0)
        x, y = self._newton(xd * scale, yd * scale, xd, yd, 2)
        ex, ey = self.distort(x, y)
        bad = ~(np.abs(ex - xd) + np.abs(ey - yd) <= 1e-10)
        if np.any(bad):
            xb, yb = self._newton(x[bad], y[bad], xd[bad], yd[bad], 12)
            x[bad], y[bad] = xb, yb
            ex, ey = self.distort(xb, yb)
            still = ~(np.abs(ex - xd[bad]) + np.abs(ey - yd[bad]) <= 1e-9)
            still |= (xb * xb + yb * yb) > self._max_r2
            xb[still] = np.nan
            yb[still] = np.nan
            x[bad], y[bad] = xb, yb
        return x.reshape(shape), y.reshape(shape)

    def _newton(
        self,
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        xd: NDArray[np.float64],
        yd: NDArray[np.float64],
        iterations: int,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        k1, k2, k3, p1, p2 = self.k1, self.k2, self.k3, self.p1, self.p2
        for _ in range(iterations):
            x2, y2, xy = x * x, y * y, x * y
            r2 = x2 + y2
            radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
            dr = 2.0 * (k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2))  # 2 d radial / d r2
            fx = x * radial + 2.0 * p1 * xy + p2 * (r2 + 2.0 * x2) - xd
            fy = y * radial + p1 * (r2 + 2.0 * y2) + 2.0 * p2 * xy - yd
            j11 = radial + x2 * dr + 2.0 * p1 * y + 6.0 * p2 * x
            j12 = xy * dr + 2.0 * p1 * x + 2.0 * p2 * y
            j22 = radial + y2 * dr + 6.0 * p1 * y + 2.0 * p2 * x
            det = j11 * j22 - j12 * j12
            x = x - (j22 * fx - j12 * fy) / det
            y = y - (j11 * fy - j12 * fx) / det
        return x, y

    @property
    def _radial_table(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        tab = self.__dict__.get("_rtab")
        if tab is None:
            rmax = min(math.sqrt(self._max_r2), 4.0)
            r = np.linspace(0.0, rmax, 8193)
            r2 = r * r
            rd = r * (1.0 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3)))
            tab = (rd, r)
            object.__setattr__(self, "_rtab", tab)
        return tab

    def _monotonic_r2_limit(self) -> float:
        """Largest r^2 up to which the radial map r -> r * radial(r^2) keeps increasing."""
        if not (self.k1 or self.k2 or self.k3):
            return math.inf
        r = np.linspace(0.0, 4.0, 40001)
        r2 = r * r
        rd = r * (1.0 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3)))
        dec = np.nonzero(np.diff(rd) <= 0)[0]
        return math.inf if dec.size == 0 else float(r2[dec[0]])

    # ------------------------------------------------------------------ pixels <-> rays
    def project(self, points_cam: ArrayLike) -> NDArray[np.float64]:
        """Camera-frame points ``(N, 3)`` to pixels ``(N, 2)``; NaN behind the camera."""
        p = np.asarray(points_cam, dtype=np.float64)
        if p.shape[-1] != 3:
            raise CameraModelError(f"points must have shape (..., 3), got {p.shape}")
        z = p[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(z > 0, p[..., 0] / z, np.nan)
            y = np.where(z > 0, p[..., 1] / z, np.nan)
        xd, yd = self.distort(x, y)
        return np.stack([self.fx_px * xd + self.cx_px, self.fy_px * yd + self.cy_px], axis=-1)

    def pixel_rays(self, u: ArrayLike, v: ArrayLike) -> NDArray[np.float64]:
        """Unit ray directions ``(..., 3)`` in the camera frame for pixels ``(u, v)``.

        Examples
        --------
        >>> CameraModel(101, 101, 50.0, 50.0, 50.0, 50.0).pixel_rays(100.0, 50.0).round(6)
        array([0.707107, 0.      , 0.707107])
        """
        u = np.asarray(u, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64)
        x, y = self.undistort_pixels(u, v)
        n = np.sqrt(x * x + y * y + 1.0)
        return np.stack([x / n, y / n, 1.0 / n], axis=-1)

    def undistort_pixels(
        self, u: ArrayLike, v: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Undistorted normalized coordinates of pixels ``(u, v)``.

        Uses the camera's precomputed inverse map (:func:`_inverse_map`, cached per camera
        model): bilinear interpolation of the exact inverse on a pixel grid that covers the
        image (within 0.002 px), refined by one Newton step, which squares that error: the
        result matches :meth:`undistort` to rounding (< 1e-6 px re-projected). Pixels off the
        grid, or in a cell that touches a non-invertible node, go through :meth:`undistort`.
        """
        u0, v0 = np.broadcast_arrays(np.asarray(u, np.float64), np.asarray(v, np.float64))
        if not self.has_distortion:
            return (u0 - self.cx_px) / self.fx_px, (v0 - self.cy_px) / self.fy_px
        shape = u0.shape
        uf, vf = u0.ravel(), v0.ravel()
        m = _inverse_map(self)
        gu = (uf - m.u0) * m.inv_step
        gv = (vf - m.v0) * m.inv_step
        with np.errstate(invalid="ignore"):
            on = (gu >= 0.0) & (gu <= m.nu - 1) & (gv >= 0.0) & (gv <= m.nv - 1)
        iu = np.minimum(np.where(on, gu, 0.0).astype(np.intp), m.nu - 2)
        iv = np.minimum(np.where(on, gv, 0.0).astype(np.intp), m.nv - 2)
        fu = gu - iu
        fv = gv - iv
        k = iv * (m.nu - 1) + iu
        c = m.coef[k]  # (N, 8): per cell x = a + b fu + c fv + d fu fv, same for y
        fuv = fu * fv
        x = c[:, 0] + c[:, 1] * fu + c[:, 2] * fv + c[:, 3] * fuv
        y = c[:, 4] + c[:, 5] * fu + c[:, 6] * fv + c[:, 7] * fuv
        # one Newton step from the map's 0.002 px start: the error squares (to ~1e-9 px), so
        # the result matches the iterative solver to rounding
        x, y = self._newton(x, y, (uf - self.cx_px) / self.fx_px, (vf - self.cy_px) / self.fy_px, 1)
        off = ~on | np.isnan(x)
        if np.any(off):
            xo, yo = self.undistort(
                (uf[off] - self.cx_px) / self.fx_px, (vf[off] - self.cy_px) / self.fy_px
            )
            x[off], y[off] = xo, yo
        return x.reshape(shape), y.reshape(shape)

    def border_pixels(self, per_side: int = 16) -> NDArray[np.float64]:
        """Points along the image border (outer pixel edges), clockwise from top-left."""
        if per_side < 1:
            raise CameraModelError(f"per_side must be >= 1, got {per_side}")
        w, h = self.width_px - 0.5, self.height_px - 0.5
        t = np.linspace(0.0, 1.0, per_side, endpoint=False)
        top = np.stack([-0.5 + t * (w + 0.5), np.full_like(t, -0.5)], -1)
        right = np.stack([np.full_like(t, w), -0.5 + t * (h + 0.5)], -1)
        bottom = np.stack([w - t * (w + 0.5), np.full_like(t, h)], -1)
        left = np.stack([np.full_like(t, -0.5), h - t * (h + 0.5)], -1)
        return np.concatenate([top, right, bottom, left])


@dataclass(frozen=True, eq=False)
class _InverseMap:
    """Bilinear cells of the exact inverse distortion on a pixel grid (see ``_inverse_map``)."""

    u0: float
    v0: float
    inv_step: float
    nu: int
    nv: int
    coef: NDArray[np.float64]  # ((nv-1)*(nu-1), 8)
    step_px: float
    max_err_px: float


# the grid steps tried, coarse to fine; the first whose mid-cell error is < _MAP_TOL_PX wins
_MAP_STEPS_PX = (16.0, 8.0, 4.0, 2.0)
_MAP_TOL_PX = 0.002


@functools.lru_cache(maxsize=32)
def _inverse_map(cam: CameraModel) -> _InverseMap:
    """The camera's inverse map, cached per camera model (equal models share one).

    Nodes every ``step`` px over the image plus one cell of margin; each node holds the exact
    (iterative) undistortion. The step is the coarsest whose worst re-projection error at the
    cell centres and edge midpoints, over the cells whose corners are all invertible, stays
    under ``_MAP_TOL_PX`` (0.002 px; the bilinear error peaks at the cell centre).
    """
    w, h = cam.width_px, cam.height_px
    last: _InverseMap | None = None
    for step in _MAP_STEPS_PX:
        nu = int(math.ceil((w + 2 * step) / step)) + 1
        nv = int(math.ceil((h + 2 * step) / step)) + 1
        u0, v0 = -0.5 - step, -0.5 - step
        gu, gv = np.meshgrid(u0 + step * np.arange(nu), v0 + step * np.arange(nv))
        x, y = cam.undistort((gu - cam.cx_px) / cam.fx_px, (gv - cam.cy_px) / cam.fy_px)
        coef = np.empty((nv - 1, nu - 1, 8))
        for j, g in enumerate((x, y)):
            a, b = g[:-1, :-1], g[:-1, 1:]
            c, d = g[1:, :-1], g[1:, 1:]
            coef[..., 4 * j] = a
            coef[..., 4 * j + 1] = b - a
            coef[..., 4 * j + 2] = c - a
            coef[..., 4 * j + 3] = a - b - c + d
        # worst error at cell centres and edge midpoints, re-projected to pixels
        cell_err = np.zeros((nv - 1, nu - 1))
        for fu, fv in ((0.5, 0.5), (0.5, 0.0), (0.0, 0.5)):
            xi = coef[..., 0] + coef[..., 1] * fu + coef[..., 2] * fv + coef[..., 3] * fu * fv
            yi = coef[..., 4] + coef[..., 5] * fu + coef[..., 6] * fv + coef[..., 7] * fu * fv
            xd, yd = cam.distort(xi, yi)
            pu = cam.fx_px * xd + cam.cx_px - (gu[:-1, :-1] + fu * step)
            pv = cam.fy_px * yd + cam.cy_px - (gv[:-1, :-1] + fv * step)
            cell_err = np.fmax(cell_err, np.hypot(pu, pv))
        err = float(np.nanmax(cell_err)) if np.isfinite(cell_err).any() else 0.0
        if err >= _MAP_TOL_PX and step == _MAP_STEPS_PX[-1]:
            # near a fold-over even the finest grid bends too much: those cells (and only
            # those) are left to the iterative solver
            coef[cell_err >= _MAP_TOL_PX] = np.nan
            err = float(np.nanmax(np.where(cell_err < _MAP_TOL_PX, cell_err, np.nan)))
        last = _InverseMap(u0, v0, 1.0 / step, nu, nv, coef.reshape(-1, 8), step, err)
        if err < _MAP_TOL_PX:
            break
    assert last is not None
    return last


@dataclass(frozen=True)
class Boresight:
    """Mounting of a second camera relative to a reference camera on the same gimbal.

    The second camera's gimbal-frame rotation is ``R_ned_from_gimbal @ Rz(yaw) Ry(pitch)
    Rx(roll)`` (small angles, Z-Y-X in the gimbal's forward-right-down axes), and its centre is
    offset by ``lever_arm_m`` (forward, right, down, in gimbal axes) from the pose position.
    ``body_lever_arm_m`` adds the offset of the gimbal centre from the pose position (the GNSS
    antenna) in vehicle body axes (forward, right, down); it needs the vehicle attitude in the
    poses (without it the gimbal yaw stands in for the heading, level).
    The same record describes the main camera's own calibration (angles and offsets relative
    to its gimbal), so both cameras of a rig are handled alike.

    Examples
    --------
    >>> Boresight(yaw_deg=0.5).yaw_deg
    0.5
    """

    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    lever_arm_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    body_lever_arm_m: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def rotation(self) -> NDArray[np.float64]:
        """``R_gimbal_from_gimbal2``: the second camera's gimbal axes in the reference's."""
        from geo.rotation import matrix_from_euler_zyx

        return matrix_from_euler_zyx(self.yaw_deg, self.pitch_deg, self.roll_deg)
