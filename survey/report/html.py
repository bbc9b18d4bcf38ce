"""The run's HTML report: one self-contained file (thumbnails embedded), printable to PDF.

Sections: the run (asset, length, flight, time); a summary (defects by decision, by class and
final severity); a strip chart of the line with each defect at its chainage coloured by
severity and the coverage gaps shaded; statistics per chainage bin (``report.bin_m``, 1 km by
default: defects by severity, review state, camera coverage); coverage and gaps per camera; and
the defect list, most severe first, with position, chainage, uncertainty, recommended action,
the inspector's decision and evidence thumbnails (RGB and thermal).
"""

from __future__ import annotations

import base64
import html as htmllib
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from survey.config import Config
from survey.defects import DefectSet, iso_utc
from survey.report.export import SEVERITY_COLOURS, severity_colour
from survey.report.stats import coverage_stats, per_bin, severity_table
from survey.store.base import DefectStore

__all__ = ["render_report", "thumbnail_data_uri", "write_report"]

log = logging.getLogger(__name__)
TEMPLATE = Path(__file__).parent / "data" / "report.html.j2"


def thumbnail_data_uri(path: Path, max_px: int) -> str:
    """A JPEG ``data:`` URI of the image, longest side ``max_px``; '' when it cannot be read."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    if img is None:
        if path.name:
            log.warning("evidence image %s is missing or unreadable", path)
        return ""
    scale = max_px / max(img.shape[:2])
    if scale < 1:
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode() if ok else ""


def _strip_svg(
    defects: DefectSet,
    length_m: float,
    start_m: float,
    gaps: list[tuple[float, float]],
    bin_m: float,
) -> str:
    w, h, pad = 1000.0, 70.0, 10.0

    def x(ch: float) -> float:
        return pad + (ch - start_m) / max(length_m, 1e-9) * (w - 2 * pad)

    parts = [
        f'<svg class="strip" viewBox="0 0 {w:.0f} {h:.0f}" role="img" aria-label="defects along the line">'
    ]
    for a, b in gaps:
        parts.append(
            f'<rect x="{x(a):.1f}" y="8" width="{max(x(b) - x(a), 1):.1f}" height="44" fill="#bbb"><title>gap {a:.0f}-{b:.0f} m</title></rect>'
        )
    parts.append(
        f'<line x1="{pad}" y1="30" x2="{w - pad}" y2="30" stroke="#333" stroke-width="3"/>'
    )
    k = 0.0
    while k <= length_m + 1e-9:
        parts.append(
            f'<line x1="{x(start_m + k):.1f}" y1="24" x2="{x(start_m + k):.1f}" y2="36" stroke="#333"/>'
            f'<text x="{x(start_m + k):.1f}" y="66" font-size="11" text-anchor="middle">{(start_m + k) / 1000:g} km</text>'
        )
        k += bin_m
    for i in np.argsort(defects.final_severity, kind="stable"):
        s = int(defects.final_severity[i])
        y = (
            30 - 4 * s
            if defects.side[i] == "left"
            else 30 + 4 * s
            if defects.side[i] == "right"
            else 30
        )
        parts.append(
            f'<circle cx="{x(defects.chainage_m[i]):.1f}" cy="{y:.1f}" r="{2 + s}" fill="{severity_colour(s)}" '
            f'stroke="#000" stroke-width="0.5"><title>{htmllib.escape(defects.defect_id[i])} '
            f"{htmllib.escape(defects.class_name[i])} S{s} {htmllib.escape(defects.chainage_label[i])}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_report(store: DefectStore, run_dir: str | Path, *, config: Config | None = None) -> str:
    """The report as one HTML string."""
    import jinja2

    cfg = config or Config()
    rc = cfg.report
    rd = Path(run_dir)
    defects = store.read_defects()
    info = store.read_run()
    route = store.read_layer("route")
    length = (
        float(info.asset_length_m)
        if info is not None and np.isfinite(info.asset_length_m)
        else float("nan")
    )
    if not np.isfinite(length) and route is not None and "length_m" in route.columns:
        length = float(route.length_m.sum())
    if not np.isfinite(length):
        length = float(np.nanmax(defects.chainage_end_m)) if len(defects) else 0.0
    start = info.chainage_origin_m if info is not None else 0.0
    cov = coverage_stats(
        store.read_layer("coverage"), length, start_m=start, min_gap_m=rc.min_gap_m
    )
    bins = per_bin(defects, length, bin_m=rc.bin_m, start_m=start, coverage=cov)
    order = np.lexsort((defects.chainage_m, -defects.final_severity))
    rows = []
    for rank, i in enumerate(order):
        d = defects[int(i)]
        thumbs = rank < rc.max_thumbnails
        rows.append(
            {
                "d": d,
                "colour": severity_colour(d.final_severity),
                "first_seen": iso_utc(d.first_seen_t_s),
                "decided_at": iso_utc(d.decided_t_s),
                "rgb": thumbnail_data_uri(rd / d.rgb_crop, rc.thumbnail_px)
                if thumbs and d.rgb_crop
                else "",
                "thermal": thumbnail_data_uri(rd / d.thermal_crop, rc.thumbnail_px)
                if thumbs and d.thermal_crop
                else "",
            }
        )
    all_gaps = sorted({g for gl in cov.gaps.values() for g in gl})
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    tmpl = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    decisions = {
        k: int((defects.decision == k).sum())
        for k in ("confirmed", "rejected", "needs_revisit", "unreviewed")
    }
    return tmpl.render(
        run_id=store.run_id,
        info=info,
        length_m=length,
        start_m=start,
        n=len(defects),
        decisions=decisions,
        sev_table=severity_table(defects),
        sev_totals=np.bincount(defects.final_severity - 1, minlength=5).tolist()
        if len(defects)
        else [0] * 5,
        colours=SEVERITY_COLOURS,
        bins=bins,
        bin_rows=range(len(bins.start_m)),
        cov=cov,
        strip=_strip_svg(defects, length, start, all_gaps, rc.bin_m),
        rows=rows,
        rc=rc,
        created=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        iso=iso_utc,
        km=_km,
        store_url=store.url,
    )


def _km(m: float) -> str:
    from geo.chainage import format_km

    return format_km(m)


def write_report(
    store: DefectStore, run_dir: str | Path, out: str | Path, *, config: Config | None = None
) -> Path:
    """Render and write the report; returns its path."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    text: Any = render_report(store, run_dir, config=config)
    path.write_text(text, encoding="utf-8")
    return path
