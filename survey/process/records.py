"""Typed records that stages pass to each other through their folders.

Every record is a frozen dataclass; many-of-a-kind data are parallel numpy arrays. Each has
``save(folder)`` / ``load(folder)`` that write plain ``.npz`` arrays and a ``.json`` of the
scalars, so a stage's outputs can be read without this package (and fingerprinted by the
runner: identical records give identical files).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from survey.errors import SurveyError

__all__ = [
    "CameraSpec",
    "StageDataError",
    "StreamPoses",
    "load_json",
    "save_json",
]

F64 = NDArray[np.float64]


class StageDataError(SurveyError, ValueError):
    """A stage's output file is missing or unreadable (re-run with --rerun-from)."""


def save_json(path: Path, value: Any) -> Path:
    """Write JSON (sorted keys, NaN as null) atomically."""
    import os

    text = json.dumps(_clean(value), indent=1, sort_keys=True, allow_nan=False)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_json(path: Path) -> Any:
    """Read a JSON file written by :func:`save_json`."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise StageDataError("stage output missing", path=path) from exc
    except ValueError as exc:
        raise StageDataError(f"stage output is not valid JSON ({exc})", path=path) from exc


def _clean(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, np.ndarray):
        return _clean(v.tolist())
    if isinstance(v, np.generic):
        return _clean(v.item())
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, Path):
        return str(v)
    return v


@dataclass(frozen=True)
class CameraSpec:
    """Intrinsics of a stream's frames (the fields of :class:`geo.CameraModel`) and how they
    were found."""

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
    kind: str = "rgb"
    source: str = ""

    def model(self) -> Any:
        """The :class:`geo.CameraModel`."""
        from geo.camera import CameraModel

        return CameraModel(
            self.width_px, self.height_px, self.fx_px, self.fy_px, self.cx_px, self.cy_px,
            self.k1, self.k2, self.p1, self.p2, self.k3, name=self.name,
            kind="thermal" if self.kind == "thermal" else "rgb", source=self.source,
        )  # fmt: skip

    @classmethod
    def of(cls, cam: Any) -> CameraSpec:
        """From a :class:`geo.CameraModel`."""
        return cls(
            int(cam.width_px), int(cam.height_px), float(cam.fx_px), float(cam.fy_px),
            float(cam.cx_px), float(cam.cy_px), float(cam.k1), float(cam.k2), float(cam.p1),
            float(cam.p2), float(cam.k3), str(cam.name), str(cam.kind), str(cam.source),
        )  # fmt: skip


_POSE_ARRAYS = (
    "file_index",
    "frame",
    "t_s",
    "lat_deg",
    "lon_deg",
    "alt_m",
    "yaw_deg",
    "pitch_deg",
    "roll_deg",
    "vehicle_yaw_deg",
    "vehicle_pitch_deg",
    "vehicle_roll_deg",
    "vn_mps",
    "ve_mps",
    "vd_mps",
    "fix_type",
    "ok",
    "reason",
)


@dataclass(frozen=True, eq=False)
class StreamPoses:
    """The pose of every frame of one media stream (parallel arrays, one row per frame).

    ``files`` are paths relative to the flight folder; ``file_index``/``frame`` say which file
    and which frame in it (``frame`` = -1 for single images). ``t_s`` is on the reference
    log's clock (UTC as the log states it), or the camera's own clock when the stream has no
    log. Angles are the camera gimbal's, absolute (NED, see :mod:`geo.rotation`); ``alt_m`` is
    in ``alt_ref`` (``takeoff`` = height above the take-off point). ``ok`` is False where the
    frame cannot be located and ``reason`` says why.
    """

    stream_id: str
    kind: str
    files: tuple[str, ...]
    camera: CameraSpec
    alt_ref: str
    file_index: NDArray[np.int32]
    frame: NDArray[np.int64]
    t_s: F64
    lat_deg: F64
    lon_deg: F64
    alt_m: F64
    yaw_deg: F64
    pitch_deg: F64
    roll_deg: F64
    vehicle_yaw_deg: F64
    vehicle_pitch_deg: F64
    vehicle_roll_deg: F64
    vn_mps: F64
    ve_mps: F64
    vd_mps: F64
    fix_type: NDArray[np.int16]
    ok: NDArray[np.bool_]
    reason: NDArray[np.str_]
    fps: float = float("nan")
    sync: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.t_s.size)

    def camera_poses(self, index: NDArray[np.intp] | None = None) -> Any:
        """:class:`geo.CameraPoses` of all frames (or of ``index``)."""
        from geo.pose import CameraPoses

        sel = slice(None) if index is None else index
        return CameraPoses(
            self.lat_deg[sel], self.lon_deg[sel], self.alt_m[sel], self.alt_ref,  # type: ignore[arg-type]
            self.yaw_deg[sel], self.pitch_deg[sel], self.roll_deg[sel], gimbal_mode="absolute",
            t_s=self.t_s[sel],
        )  # fmt: skip

    def velocity(self, index: NDArray[np.intp] | None = None) -> F64:
        """(N, 3) NED velocity."""
        sel = slice(None) if index is None else index
        return np.stack([self.vn_mps[sel], self.ve_mps[sel], self.vd_mps[sel]], -1)

    def label(self, i: int) -> str:
        """``file`` or ``file#frame`` of row ``i``."""
        f = self.files[int(self.file_index[i])]
        return f if self.frame[i] < 0 else f"{f}#{int(self.frame[i])}"

    def save(self, folder: Path) -> None:
        """Write ``<stream_id>.npz`` and ``<stream_id>.json`` into ``folder``."""
        arrays = {k: getattr(self, k) for k in _POSE_ARRAYS}
        arrays["reason"] = np.asarray(self.reason, dtype=str)
        with (folder / f"{self.stream_id}.npz").open("wb") as fh:
            np.savez_compressed(fh, **arrays)
        meta = {
            "stream_id": self.stream_id,
            "kind": self.kind,
            "files": list(self.files),
            "camera": self.camera.__dict__,
            "alt_ref": self.alt_ref,
            "fps": self.fps,
            "sync": self.sync,
            "warnings": list(self.warnings),
        }
        save_json(folder / f"{self.stream_id}.json", meta)

    @classmethod
    def load(cls, folder: Path, stream_id: str) -> StreamPoses:
        """Read what :meth:`save` wrote."""
        meta = load_json(folder / f"{stream_id}.json")
        p = folder / f"{stream_id}.npz"
        try:
            with np.load(p) as z:
                arrays = {k: z[k] for k in _POSE_ARRAYS}
        except (OSError, KeyError, ValueError) as exc:
            raise StageDataError(f"unreadable pose arrays ({exc})", path=p) from exc
        return cls(
            stream_id=meta["stream_id"],
            kind=meta["kind"],
            files=tuple(meta["files"]),
            camera=CameraSpec(**meta["camera"]),
            alt_ref=meta["alt_ref"],
            fps=float("nan") if meta["fps"] is None else float(meta["fps"]),
            sync=meta["sync"],
            warnings=tuple(meta["warnings"]),
            **arrays,
        )

    @classmethod
    def build(cls, **kw: Any) -> StreamPoses:
        """Construct with arrays coerced to their dtypes."""
        n = len(kw["t_s"])
        dtypes = {
            "file_index": np.int32,
            "frame": np.int64,
            "fix_type": np.int16,
            "ok": np.bool_,
        }
        for name in _POSE_ARRAYS:
            v = kw.get(name)
            if name == "reason":
                kw[name] = np.asarray(v if v is not None else [""] * n, dtype=str)
            elif v is None:
                kw[name] = np.full(n, np.nan)
            else:
                kw[name] = np.asarray(v, dtype=dtypes.get(name, np.float64))
            if kw[name].shape != (n,):
                raise StageDataError(f"pose field {name} has shape {kw[name].shape}, expected {n}")
        return cls(**kw)


def stream_ids(folder: Path) -> list[str]:
    """The stream ids saved in a stage folder (from its ``*.json`` files)."""
    return sorted(p.stem for p in folder.glob("*.json") if (folder / f"{p.stem}.npz").is_file())


def field_names(cls: Any) -> list[str]:
    """Names of a dataclass's fields."""
    return [f.name for f in fields(cls)]
