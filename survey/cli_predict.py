"""``survey predict INPUT... --model NAME|PATH --out DIR``: defect masks and instances per image.

For each image it writes, at the image's own size, ``STEM.png`` (255 = defect, 0 = background;
the union of all classes) and, when the models know several classes, ``STEM.CLASS.png`` per
class; and ``STEM.json`` with the instances (class, score, polygon, length, width, severity...).
Images inside a folder given as INPUT keep their sub-folder under DIR. An unreadable image is
named on stderr, skipped and counted; ``predict_summary.json`` lists what was done.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import click

__all__ = ["collect_images", "predict"]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")


def collect_images(inputs: tuple[str, ...], recursive: bool) -> list[tuple[Path, Path]]:
    """``(image path, output stem relative to DIR)`` for every image named or found in a folder.

    Raises :class:`click.UsageError` when two inputs would write the same output files.
    """
    found: list[tuple[Path, Path]] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            files = p.rglob("*") if recursive else p.iterdir()
            imgs = sorted(f for f in files if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not imgs:
                log.warning("%s: no images (%s)", p, ", ".join(IMAGE_SUFFIXES))
            found += [(f, f.relative_to(p).with_suffix("")) for f in imgs]
        else:
            found.append((p, Path(p.stem)))
    seen: dict[Path, Path] = {}
    for img, stem in found:
        if stem in seen and seen[stem].resolve() != img.resolve():
            raise click.UsageError(
                f"{img} and {seen[stem]} would both write {stem}.png/.json; "
                "predict them into different --out folders"
            )
        seen[stem] = img
    unique = {img.resolve(): (img, stem) for img, stem in found}
    return list(unique.values())


#: photos whose camera looks this close to straight down get one GSD for the whole frame
NADIR_TOLERANCE_DEG = 15.0


def gsd_from_metadata(path: Path) -> tuple[float | None, str]:
    """Ground sample distance (mm/px) of a near-nadir drone photo from its EXIF/XMP, and why.

    Needs a focal length the camera model can use, the height above the take-off point
    (DJI ``RelativeAltitude``; flat ground at take-off height is assumed) and a gimbal pitch
    within :data:`NADIR_TOLERANCE_DEG` of straight down; an oblique frame has no single GSD.
    Returns ``(None, reason)`` when any of that is missing.
    """
    from geo.camera_db import camera_from_tags
    from geo.errors import GeoError
    from geo.imagemeta import read_image_tags

    try:
        tags = read_image_tags(path)
        cam = camera_from_tags(tags)
    except GeoError as exc:
        return None, f"no camera model from the metadata ({exc.message})"
    flat = {k.split(":")[-1]: v for k, v in tags.items()}
    try:
        alt = float(str(flat["RelativeAltitude"]))
        pitch = float(str(flat["GimbalPitchDegree"]))
    except (KeyError, ValueError):
        return None, "no RelativeAltitude / GimbalPitchDegree in the XMP"
    if alt <= 0:
        return None, f"RelativeAltitude {alt} m is not above the ground"
    off_nadir = abs(abs(pitch) - 90.0)
    if off_nadir > NADIR_TOLERANCE_DEG:
        return None, f"oblique view (gimbal pitch {pitch:g} deg): no single GSD"
    import math

    range_m = alt / math.cos(math.radians(off_nadir))
    gsd_mm = float(cam.gsd_m(range_m)) * 1000.0
    return gsd_mm, f"EXIF/XMP: {alt:g} m above take-off, pitch {pitch:g} deg, {cam.name}"


def _write_png(path: Path, mask: Any) -> None:
    import cv2
    import numpy as np

    ok, buf = cv2.imencode(".png", np.where(mask, 255, 0).astype(np.uint8))
    if not ok:
        raise click.ClickException(f"{path}: PNG encoding failed")
    path.write_bytes(buf.tobytes())


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "-m",
    "--model",
    "models",
    multiple=True,
    help="Shipped model name ('default' = the crack model), a model file (.pth) or a training "
    "run folder; repeat to run a suite (e.g. the crack model and a Mask R-CNN). "
    "Default: [predict] models of the config.",
)
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option(
    "--gsd-mm",
    "gsd_opt",
    help="Ground sample distance (mm/px), or 'auto' to read it from near-nadir drone photos' "
    "EXIF/XMP: sizes in mm/m and crack severity. Without it sizes are in pixels only.",
)
@click.option("--threshold", type=float, help="Override every model's operating threshold.")
@click.option(
    "--tta",
    type=click.Choice(["none", "flip", "d4"]),
    help="Test-time augmentation of semantic models (default: [predict] tta, else the model's).",
)
@click.option("-r", "--recursive", is_flag=True, help="Also images in sub-folders of a folder.")
@click.option("--threads", type=int, help="torch CPU threads (default: the config's).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def predict(
    inputs: tuple[str, ...],
    models: tuple[str, ...],
    out_dir: str,
    gsd_opt: str | None,
    threshold: float | None,
    tta: str | None,
    recursive: bool,
    threads: int | None,
    as_json: bool,
) -> None:
    """Segment defects in images: mask PNGs and instance JSON per image into --out."""
    from tqdm import tqdm

    from models.crack import CrackSeverityScale
    from models.errors import ModelError
    from models.semseg.data import read_image_bgr
    from models.semseg.suite import ModelSuite
    from survey.cli import get_config

    cfg = get_config()
    pc = cfg.predict
    auto_gsd = gsd_opt is not None and gsd_opt.strip().lower() == "auto"
    fixed_gsd: float | None = None
    if gsd_opt is not None and not auto_gsd:
        try:
            fixed_gsd = float(gsd_opt)
        except ValueError:
            raise click.BadParameter(
                "a number of mm per pixel, or 'auto'", param_hint="--gsd-mm"
            ) from None
        if not fixed_gsd > 0:
            raise click.BadParameter("must be > 0", param_hint="--gsd-mm")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise click.BadParameter("must be within [0, 1]", param_hint="--threshold")
    images = collect_images(inputs, recursive)
    if not images:
        raise click.UsageError("no images in the inputs")
    scale = CrackSeverityScale(
        tuple(pc.crack_width_mm), tuple(pc.crack_length_m), pc.crack_width_measure
    )
    suite = ModelSuite(
        list(models) or list(pc.models),
        threshold=threshold,
        linear_classes=pc.linear_classes,
        scale=scale,
        min_area_px=pc.min_area_px,
        join_gap_px=pc.join_gap_px,
        threads=threads or cfg.general.threads or None,
        tta=tta or pc.tta or None,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    done: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    t0 = time.perf_counter()
    for img_path, stem in tqdm(images, desc="predict", unit="img", disable=as_json):
        try:
            img = read_image_bgr(img_path)
        except ModelError as exc:
            click.echo(f"skipped: {exc}", err=True)
            skipped.append({"path": str(img_path), "reason": exc.message})
            continue
        gsd_mm, gsd_source = fixed_gsd, "--gsd-mm" if fixed_gsd else "unknown"
        if auto_gsd:
            gsd_mm, gsd_source = gsd_from_metadata(img_path)
            if gsd_mm is None:
                log.warning("%s: GSD unknown: %s", img_path, gsd_source)
        t1 = time.perf_counter()
        res = suite(img, gsd_mm=gsd_mm)
        dt = time.perf_counter() - t1
        dest = out / stem
        dest.parent.mkdir(parents=True, exist_ok=True)
        _write_png(dest.with_name(dest.name + ".png"), res.union)
        if len(res.class_names) > 1:
            for k, cls in enumerate(res.class_names):
                _write_png(dest.with_name(f"{dest.name}.{_safe(cls)}.png"), res.masks[k])
        counts = {c: sum(r["class"] == c for r in res.instances) for c in res.class_names}
        doc = {
            "image": str(img_path),
            "width": int(img.shape[1]),
            "height": int(img.shape[0]),
            "models": [m.spec for m in suite.members],
            "classes": list(res.class_names),
            "gsd_mm": None if gsd_mm is None else round(gsd_mm, 4),
            "gsd_source": gsd_source,
            "seconds": round(dt, 3),
            "counts": counts,
            "instances": res.instances,
        }
        dest.with_name(dest.name + ".json").write_text(json.dumps(doc), encoding="utf-8")
        done.append(
            {
                "image": str(img_path),
                "out": str(dest),
                "instances": len(res.instances),
                "seconds": round(dt, 3),
            }
        )
    summary = {
        "out": str(out),
        "models": [
            {
                "spec": m.spec,
                "path": str(m.path),
                "kind": m.kind,
                "classes": list(m.class_names),
                "thresholds": [float(t) for t in getattr(m.predictor, "thresholds", ())],
                "tta": getattr(m.predictor, "tta", None),
            }
            for m in suite.members
        ],
        "images": len(done),
        "skipped": len(skipped),
        "skipped_files": skipped,
        "instances": sum(d["instances"] for d in done),
        "seconds": round(time.perf_counter() - t0, 2),
        "results": done,
    }
    (out / "predict_summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(
            f"{len(done)} image(s) -> {out} ({summary['instances']} instances, "
            f"{len(skipped)} skipped, {summary['seconds']} s)"
        )
    if not done:
        raise click.ClickException(f"none of the {len(images)} image(s) could be read")
