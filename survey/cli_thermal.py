"""``survey thermal FILE... --out DIR``: calibrated temperatures, false colour, anomalies.

For every frame of every file: ``<name>.tif`` (float32 degC, NaN nodata, calibration and
position in the tags), optionally ``<name>.npy``, ``<name>_color.png`` (false colour with a
temperature scale bar and the anomalies outlined: accepted in green, rejected in grey) and
``<name>_anomalies.json`` (every candidate with its features, the reason when rejected, and
the detector's parameters). A file that cannot be read is reported and skipped; the others
go on, and the exit status is 1 when any failed.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["thermal"]


def _local_hour(frame: Any) -> float | None:
    """Approximate local solar hour from UTC time and longitude (None when unknown)."""
    if frame.datetime_utc_s is None or frame.gps is None:
        return None
    return ((frame.datetime_utc_s / 3600.0) + frame.gps.lon_deg / 15.0) % 24.0


def _gsd(frame: Any) -> float | None:
    """Ground sample distance of a near-nadir frame from height above ground and field of view."""
    g, fov = frame.gps, frame.field_of_view_deg
    if g is None or g.rel_alt_m is None or not fov or g.rel_alt_m <= 0:
        return None
    if frame.gimbal is not None and frame.gimbal.pitch_deg > -75.0:
        return None  # oblique: one GSD does not describe the frame
    return 2.0 * g.rel_alt_m * math.tan(math.radians(fov) / 2.0) / frame.width


def _write_tif(path: Path, temp: Any, frame: Any) -> None:
    import dataclasses

    import numpy as np
    import rasterio

    tags = {
        "source": frame.source,
        "frame_index": str(frame.frame_index),
        "camera": f"{frame.camera_make} {frame.camera_model}".strip(),
        "units": "degC",
    }
    if hasattr(frame.calibration, "planck_r1"):
        tags["calibration"] = json.dumps(dataclasses.asdict(frame.calibration))
    if frame.gps is not None:
        tags["gps"] = json.dumps(dataclasses.asdict(frame.gps))
    if frame.gimbal is not None:
        tags["gimbal"] = json.dumps(dataclasses.asdict(frame.gimbal))
    if frame.datetime_utc_s is not None:
        tags["time_utc_s"] = repr(frame.datetime_utc_s)
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    h, w = temp.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        dst = rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=w,
            height=h,
            count=1,
            dtype="float32",
            nodata=float("nan"),
            compress="deflate",
            predictor=3,
        )
    with dst:
        dst.write(np.asarray(temp, np.float32), 1)
        dst.update_tags(**tags)


def _overlay(img: Any, anomalies: Any) -> Any:
    import cv2
    import numpy as np

    for i, poly in enumerate(anomalies.polygons):
        if len(poly) < 2:
            continue
        colour = (0, 255, 0) if anomalies.accepted[i] else (160, 160, 160)
        cv2.polylines(img, [np.round(poly).astype(np.int32)], True, colour, 1, cv2.LINE_AA)
        if anomalies.accepted[i]:
            x, y = (int(v) for v in anomalies.centroid_xy[i])
            cv2.putText(
                img,
                f"S{anomalies.severity[i]}",
                (x + 4, y - 4),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.4,
                (0, 255, 0),
                1,
                cv2.LINE_AA,
            )
    return img


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder."
)
@click.option("--emissivity", type=float, help="Override the file's emissivity (0-1].")
@click.option("--distance", "distance_m", type=float, help="Override the object distance, metres.")
@click.option(
    "--reflected", "reflected_c", type=float, help="Override the reflected temperature, degC."
)
@click.option("--air", "air_c", type=float, help="Override the air temperature, degC.")
@click.option("--humidity", "rh_pct", type=float, help="Override the relative humidity, percent.")
@click.option(
    "--gsd",
    "gsd_m",
    type=float,
    help="Ground sample distance, m/pixel (default: from altitude and FOV).",
)
@click.option(
    "--every", type=int, default=1, show_default=True, help="Every Nth frame of a sequence."
)
@click.option("--npy", is_flag=True, help="Also write temperatures as .npy.")
@click.option(
    "--palette", default="inferno", show_default=True, help="inferno, iron, jet, turbo, gray."
)
@click.option("--no-detect", is_flag=True, help="Only convert; no anomaly detection.")
@click.option("--json", "as_json", is_flag=True, help="One JSON summary per frame on stdout.")
def thermal(
    files: tuple[str, ...],
    out_dir: str,
    emissivity: float | None,
    distance_m: float | None,
    reflected_c: float | None,
    air_c: float | None,
    rh_pct: float | None,
    gsd_m: float | None,
    every: int,
    npy: bool,
    palette: str,
    no_detect: bool,
    as_json: bool,
) -> None:
    """Convert radiometric thermal files to calibrated degC and find warm/cool anomalies."""
    import cv2
    import numpy as np
    from tqdm import tqdm

    from thermal import (
        FrameContext,
        PlanckCalibration,
        ThermalError,
        colorize_with_scale,
        detect_anomalies,
    )
    from thermal.leak_params import LeakDetectorParams
    from thermal.seq import iter_fff_frames

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    params = LeakDetectorParams()
    overrides = {
        k: v
        for k, v in dict(
            emissivity=emissivity,
            object_distance_m=distance_m,
            reflected_temp_c=reflected_c,
            atmospheric_temp_c=air_c,
            relative_humidity_pct=rh_pct,
        ).items()
        if v is not None
    }
    failed = 0
    for f in tqdm(files, desc="thermal", unit="file", disable=len(files) < 2 or as_json):
        path = Path(f)
        try:
            from thermal import iter_frames, sniff

            frames = (
                iter_fff_frames(path, step=max(every, 1))
                if sniff(path) == "fff"
                else iter_frames(path)
            )
            for frame in frames:
                cal = frame.calibration
                if overrides:
                    if not isinstance(cal, PlanckCalibration):
                        raise click.UsageError(
                            f"{path}: calibration overrides need a Planck calibration"
                        )
                    frame = frame.replace(calibration=cal.replace(**overrides))
                temp = frame.temperature_c()
                stem = path.stem + (
                    f"_f{frame.frame_index:05d}" if frame.format in ("flir-seq", "flir-csq") else ""
                )
                _write_tif(out / f"{stem}.tif", temp, frame)
                if npy:
                    np.save(out / f"{stem}.npy", temp.astype(np.float32))
                summary: dict[str, Any] = {
                    "file": str(path),
                    "frame": frame.frame_index,
                    "temperature_tif": str(out / f"{stem}.tif"),
                    "min_c": float(np.nanmin(temp)),
                    "max_c": float(np.nanmax(temp)),
                    "warnings": list(frame.warnings),
                    "masked_px": int(np.isnan(temp).sum()),
                }
                if summary["masked_px"]:
                    summary["warnings"].append(
                        f"{summary['masked_px']} pixels outside the camera's calibrated range "
                        f"{frame.camera_range_c} degC (damaged counts?) masked as NaN"
                    )
                img = colorize_with_scale(temp, palette=palette)
                if not no_detect:
                    ctx = FrameContext(gsd_m=gsd_m or _gsd(frame), local_hour=_local_hour(frame))
                    res = detect_anomalies(temp, params, context=ctx)
                    _overlay(img, res)
                    doc = {
                        "source": str(path),
                        "frame_index": frame.frame_index,
                        "gsd_m": ctx.gsd_m,
                        "local_hour": ctx.local_hour,
                        "noise_sigma_c": res.noise_sigma_c,
                        "thresholds_c": list(res.thresholds_c),
                        "params": {k: getattr(params, k) for k in params.__dataclass_fields__},
                        "anomalies": res.to_records(),
                    }
                    (out / f"{stem}_anomalies.json").write_text(json.dumps(doc, indent=1))
                    summary["anomalies"] = int(res.accepted.sum())
                    summary["max_severity"] = (
                        int(res.severity[res.accepted].max()) if res.accepted.any() else 0
                    )
                cv2.imwrite(str(out / f"{stem}_color.png"), img)
                if as_json:
                    click.echo(json.dumps(summary))
                else:
                    extra = f", {summary['anomalies']} anomalies" if "anomalies" in summary else ""
                    click.echo(
                        f"{path} [{frame.frame_index}]: {summary['min_c']:.1f}..{summary['max_c']:.1f} degC{extra}"
                    )
                for w in summary["warnings"]:
                    click.echo(f"  warning: {w}", err=True)
        except ThermalError as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
    if failed:
        click.echo(f"{failed} of {len(files)} file(s) failed", err=True)
        sys.exit(1)
