"""Propagate pose, timing, ground and pixel errors into a 2-D covariance per ground point.

Error sources (1-sigma, each a float or one value per pose), see :class:`PoseErrorModel`:

* GNSS horizontal position (east and north, independent), camera altitude;
* attitude: heading (rotation about the vertical) and the two level tilts (about the camera
  heading's right and forward axes), so a nadir camera's errors are well defined;
* camera-to-log time offset, turned into position and attitude errors through the platform's
  velocity and angular rates;
* ground height (flat-ground height or DEM), and the image point itself.

The covariance is ``sum_k c_k c_k^T`` over the sources, where ``c_k`` is the central difference
of the ground position for a +/- 1-sigma change of source k (the exact first-order result for
linear effects, and a sigma-point secant where the geometry bends). Ellipses for probability p
use the chi-square quantile with 2 degrees of freedom, ``k^2 = -2 ln(1 - p)`` (5.991 for 95 %).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import GeoValueError
from geo.georef import Georeferencer, GroundPoints, PoseState
from geo.pose import CameraPoses
from geo.rotation import rot_x, rot_y, rot_z

__all__ = [
    "LocatedPoints",
    "PoseErrorModel",
    "chi2_2dof",
    "ellipse_axes",
    "locate_with_uncertainty",
    "mahalanobis2",
]

log = logging.getLogger(__name__)

Sigma = float | NDArray[np.float64]


@dataclass(frozen=True)
class PoseErrorModel:
    """1-sigma errors of everything that places a pixel on the ground.

    Each field is a float or an array with one value per pose. Defaults describe a consumer
    drone with standard GNSS; see the presets.

    Examples
    --------
    >>> PoseErrorModel.rtk().horizontal_m
    0.03
    """

    horizontal_m: Sigma = 1.5
    vertical_m: Sigma = 2.0
    yaw_deg: Sigma = 2.0
    pitch_deg: Sigma = 1.0
    roll_deg: Sigma = 1.0
    time_sync_s: Sigma = 0.0
    ground_m: Sigma = 0.5
    pixel_px: Sigma = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = np.asarray(getattr(self, f.name), dtype=np.float64)
            if np.any(~np.isfinite(v)) or np.any(v < 0):
                raise GeoValueError(f"{f.name} must be finite and >= 0, got {v}")

    @classmethod
    def rtk(cls, **kw: Sigma) -> PoseErrorModel:
        """RTK GNSS (cm position) with a typical small-drone gimbal."""
        base: dict[str, Sigma] = dict(
            horizontal_m=0.03, vertical_m=0.05, yaw_deg=1.5, pitch_deg=0.7, roll_deg=0.7
        )
        base.update(kw)
        return cls(**base)

    @classmethod
    def standard_gnss(cls, **kw: Sigma) -> PoseErrorModel:
        """Single-frequency GNSS and barometric altitude."""
        return cls(**kw)

    def subset(self, index: NDArray[np.intp]) -> PoseErrorModel:
        """Per-pose arrays picked by ``index`` (scalars stay as they are)."""
        ch = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if np.ndim(v):
                ch[f.name] = np.asarray(v)[index]
        return replace(self, **ch)


@dataclass(frozen=True, eq=False)
class LocatedPoints:
    """Ground points with a 2x2 grid-frame covariance each (m^2)."""

    points: GroundPoints
    cov_m2: NDArray[np.float64]

    def ellipse(self, p: float = 0.95) -> tuple[NDArray[np.float64], ...]:
        """Semi-major, semi-minor axes (m) and azimuth of the major axis (deg from grid north)."""
        return ellipse_axes(self.cov_m2, p)


def chi2_2dof(p: float) -> float:
    """Chi-square quantile with 2 degrees of freedom.

    Examples
    --------
    >>> round(chi2_2dof(0.95), 4)
    5.9915
    """
    if not 0.0 < p < 1.0:
        raise GeoValueError(f"probability must be in (0, 1), got {p}")
    return float(-2.0 * np.log1p(-p))


def ellipse_axes(
    cov_m2: ArrayLike, p: float = 0.95
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Semi-axes (m) and major-axis azimuth (deg clockwise from grid north, in [0, 180)).

    Examples
    --------
    >>> a, b, az = ellipse_axes(np.array([[1.0, 0.0], [0.0, 4.0]]))
    >>> round(float(a), 3), round(float(b), 3), float(az)
    (4.895, 2.448, 0.0)
    """
    c = np.asarray(cov_m2, dtype=np.float64)
    sxx, syy, sxy = c[..., 0, 0], c[..., 1, 1], c[..., 0, 1]
    mid = 0.5 * (sxx + syy)
    rad = np.sqrt(np.maximum(0.25 * (sxx - syy) ** 2 + sxy**2, 0.0))
    l1, l2 = mid + rad, np.maximum(mid - rad, 0.0)
    k = np.sqrt(chi2_2dof(p))
    # major-axis direction angle from +x (east) counter-clockwise
    theta = 0.5 * np.arctan2(2.0 * sxy, sxx - syy)
    az = np.mod(90.0 - np.rad2deg(theta), 180.0)
    return k * np.sqrt(l1), k * np.sqrt(l2), az


def mahalanobis2(dx: ArrayLike, dy: ArrayLike, cov_m2: ArrayLike) -> NDArray[np.float64]:
    """Squared Mahalanobis distance of offsets ``(dx, dy)`` under 2x2 covariances.

    Examples
    --------
    >>> float(mahalanobis2(3.0, 0.0, np.diag([9.0, 1.0])))
    1.0
    """
    dx = np.asarray(dx, dtype=np.float64)
    dy = np.asarray(dy, dtype=np.float64)
    c = np.asarray(cov_m2, dtype=np.float64)
    a, b, d = c[..., 0, 0], c[..., 0, 1], c[..., 1, 1]
    det = a * d - b * b
    with np.errstate(divide="ignore", invalid="ignore"):
        return (d * dx * dx - 2 * b * dx * dy + a * dy * dy) / det


def _level_rotation(yaw_deg: NDArray[np.float64], which: str, delta_deg: Sigma) -> NDArray:
    """Small rotation (N, 3, 3) about the vertical or a level axis of the camera heading."""
    if which == "yaw":
        return rot_z(np.broadcast_to(delta_deg, yaw_deg.shape))
    H = rot_z(yaw_deg)
    inner = rot_y(np.broadcast_to(delta_deg, yaw_deg.shape))
    if which == "roll":
        inner = rot_x(np.broadcast_to(delta_deg, yaw_deg.shape))
    return H @ inner @ np.swapaxes(H, -1, -2)


def locate_with_uncertainty(
    georef: Georeferencer,
    poses: CameraPoses | PoseState,
    u: ArrayLike,
    v: ArrayLike,
    pose_index: ArrayLike | None = None,
    *,
    errors: PoseErrorModel | None = None,
    velocity_ned_mps: ArrayLike | None = None,
    angular_rate_dps: ArrayLike | None = None,
) -> LocatedPoints:
    """Ground points of pixels with their 2-D covariance.

    Parameters
    ----------
    georef : Georeferencer
        Camera, ground and frame.
    poses, u, v, pose_index
        As in :meth:`Georeferencer.pixels_to_ground`.
    errors : PoseErrorModel
        1-sigma errors (per pose where arrays).
    velocity_ned_mps : array_like (N, 3), optional
        Platform velocity per pose (north, east, down); needed for the time-sync term.
    angular_rate_dps : array_like (N, 3), optional
        Camera yaw, pitch, roll rates per pose (deg/s) for the time-sync term.

    Returns
    -------
    LocatedPoints
        Points (as ``pixels_to_ground``) and covariances; NaN covariance where the point
        itself failed, or both perturbations of a source left the ground (grazing rays).

    Examples
    --------
    Nadir at 100 m, only a 1 m horizontal GNSS error: the covariance is 1 m^2 per axis
    (times the UTM scale factor squared):

    >>> from geo.camera import CameraModel
    >>> cam = CameraModel(1001, 801, 1000.0, 1000.0, 500.0, 400.0)
    >>> pose = CameraPoses.single(48.2, 15.6, 100.0, "takeoff", 0.0, -90.0, 0.0)
    >>> err = PoseErrorModel(1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    >>> lp = locate_with_uncertainty(Georeferencer(cam), pose, [500.0], [400.0], errors=err)
    >>> lp.cov_m2[0].round(4)
    array([[0.9992, 0.    ],
           [0.    , 0.9992]])
    """
    errors = errors if errors is not None else PoseErrorModel()
    state = poses if isinstance(poses, PoseState) else georef.prepare(poses)
    n = len(state)
    u = np.asarray(u, dtype=np.float64).ravel()
    v = np.asarray(v, dtype=np.float64).ravel()
    idx = georef._pose_index(n, u.size, pose_index)
    base = georef.cast(state, georef.camera.pixel_rays(u, v), idx)
    sig = {
        f.name: np.broadcast_to(np.asarray(getattr(errors, f.name), float), (n,))
        for f in fields(errors)
    }
    vel = (
        None
        if velocity_ned_mps is None
        else np.broadcast_to(np.asarray(velocity_ned_mps, float), (n, 3))
    )
    rate = (
        None
        if angular_rate_dps is None
        else np.broadcast_to(np.asarray(angular_rate_dps, float), (n, 3))
    )
    if np.any(sig["time_sync_s"] > 0) and vel is None:
        log.warning("time_sync_s > 0 but no velocity given: the time-sync error is not included")

    columns: list[NDArray[np.float64]] = []

    def add(
        make: object,
        pixel: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
        hoff: NDArray[np.float64] | None = None,
    ) -> None:
        outs = []
        for sgn in (1.0, -1.0):
            st = make(sgn) if callable(make) else state
            if pixel is not None:
                rays = georef.camera.pixel_rays(u + sgn * pixel[0], v + sgn * pixel[1])
            else:
                rays = rays0
            h = 0.0 if hoff is None else sgn * hoff
            p = georef.cast(st, rays, idx, height_offset_m=h)
            outs.append(np.stack([p.x_m, p.y_m], -1))
        plus, minus = outs
        centre = np.stack([base.x_m, base.y_m], -1)
        col = 0.5 * (plus - minus)
        col = np.where(np.isfinite(plus) & ~np.isfinite(minus), plus - centre, col)
        col = np.where(~np.isfinite(plus) & np.isfinite(minus), centre - minus, col)
        columns.append(col)

    rays0 = georef.camera.pixel_rays(u, v)
    J = state.J
    s = sig
    if np.any(s["horizontal_m"] > 0):
        for axis in (0, 1):  # east, north
            shift = J[:, :, axis] * s["horizontal_m"][:, None]
            add(
                lambda g, sh=shift: replace(
                    state, x_m=state.x_m + g * sh[:, 0], y_m=state.y_m + g * sh[:, 1]
                )
            )
    if np.any(s["vertical_m"] > 0):
        add(lambda g: replace(state, h_m=state.h_m + g * s["vertical_m"]))
    for name in ("yaw", "pitch", "roll"):
        sg = s[f"{name}_deg"]
        if np.any(sg > 0):
            add(
                lambda g, nm=name, sg=sg: replace(
                    state, R=_level_rotation(state.yaw_deg, nm, g * sg) @ state.R
                )
            )
    if vel is not None and np.any(s["time_sync_s"] > 0):
        dt = s["time_sync_s"]

        def shifted(g: float) -> PoseState:
            dn, de, dd = (vel * (g * dt)[:, None]).T
            dxy = np.einsum("nij,nj->ni", J, np.stack([de, dn], -1))
            R = state.R
            if rate is not None:
                for k, nm in enumerate(("yaw", "pitch", "roll")):
                    R = _level_rotation(state.yaw_deg, nm, g * dt * rate[:, k]) @ R
            return replace(
                state, x_m=state.x_m + dxy[:, 0], y_m=state.y_m + dxy[:, 1], h_m=state.h_m - dd, R=R
            )

        add(shifted)
    if np.any(s["ground_m"] > 0):
        add(None, hoff=s["ground_m"][idx])
    if np.any(s["pixel_px"] > 0):
        pp = s["pixel_px"][idx]
        add(None, pixel=(pp, np.zeros_like(pp)))
        add(None, pixel=(np.zeros_like(pp), pp))

    cov = np.zeros((u.size, 2, 2))
    for c in columns:
        cov += c[:, :, None] * c[:, None, :]
    cov[~base.ok] = np.nan
    return LocatedPoints(base, cov)
