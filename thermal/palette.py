"""False colour for temperature images, with an optional temperature scale bar."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["PALETTES", "colorize", "colorize_with_scale"]

#: palette name -> OpenCV colormap id (resolved lazily so importing this module stays light)
PALETTES = ("inferno", "iron", "jet", "gray", "turbo")


def _cmap(name: str) -> int:
    import cv2

    table = {
        "inferno": cv2.COLORMAP_INFERNO,
        "iron": cv2.COLORMAP_HOT,
        "jet": cv2.COLORMAP_JET,
        "turbo": cv2.COLORMAP_TURBO,
    }
    if name not in table and name != "gray":
        raise ValueError(f"unknown palette {name!r}; choose one of {', '.join(PALETTES)}")
    return table.get(name, -1)


def display_range(
    temp_c: NDArray[np.floating], lo_pct: float = 1.0, hi_pct: float = 99.0
) -> tuple[float, float]:
    """A robust display range (percentiles of the finite values), at least 1 degC wide."""
    finite = temp_c[np.isfinite(temp_c)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = (float(x) for x in np.percentile(finite, [lo_pct, hi_pct]))
    if hi - lo < 1.0:
        mid = (hi + lo) / 2.0
        lo, hi = mid - 0.5, mid + 0.5
    return lo, hi


def colorize(
    temp_c: NDArray[np.floating],
    vmin: float | None = None,
    vmax: float | None = None,
    palette: str = "inferno",
) -> NDArray[np.uint8]:
    """A ``(H, W, 3)`` BGR uint8 false-colour image of ``temp_c`` (NaN shows black).

    Examples
    --------
    >>> colorize(np.array([[0.0, 10.0]]), 0.0, 10.0, "gray")[..., 0].tolist()
    [[0, 255]]
    """
    import cv2

    if vmin is None or vmax is None:
        lo, hi = display_range(temp_c)
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    scale = 255.0 / max(vmax - vmin, 1e-9)
    with np.errstate(invalid="ignore"):
        g = np.clip((np.nan_to_num(temp_c, nan=vmin) - vmin) * scale, 0, 255).astype(np.uint8)
    cmap = _cmap(palette)
    out = cv2.cvtColor(g, cv2.COLOR_GRAY2BGR) if cmap < 0 else cv2.applyColorMap(g, cmap)
    out[~np.isfinite(temp_c)] = 0
    return out


def colorize_with_scale(
    temp_c: NDArray[np.floating],
    vmin: float | None = None,
    vmax: float | None = None,
    palette: str = "inferno",
    title: str = "degC",
) -> NDArray[np.uint8]:
    """:func:`colorize` with a vertical colour bar and tick labels (degC) on the right."""
    import cv2

    lo, hi = display_range(temp_c)
    vmin = lo if vmin is None else vmin
    vmax = hi if vmax is None else vmax
    img = colorize(temp_c, vmin, vmax, palette)
    h = img.shape[0]
    bar_w, pad, text_w = max(12, h // 25), 8, 70
    panel = np.full((h, bar_w + pad * 2 + text_w, 3), 255, np.uint8)
    top, bottom = 20, h - 12
    if bottom - top > 10:
        ramp = np.linspace(vmax, vmin, bottom - top)[:, None].repeat(bar_w, axis=1)
        panel[top:bottom, pad : pad + bar_w] = colorize(ramp, vmin, vmax, palette)
        font, fs = cv2.FONT_HERSHEY_SIMPLEX, max(0.35, h / 1400)
        cv2.putText(panel, title, (pad, 14), font, fs, (0, 0, 0), 1, cv2.LINE_AA)
        for frac in np.linspace(0.0, 1.0, 6):
            y = int(round(top + frac * (bottom - top - 1)))
            val = vmax - frac * (vmax - vmin)
            cv2.line(panel, (pad + bar_w, y), (pad + bar_w + 4, y), (0, 0, 0), 1)
            cv2.putText(
                panel, f"{val:.1f}", (pad + bar_w + 6, y + 4), font, fs, (0, 0, 0), 1, cv2.LINE_AA
            )
    return np.concatenate([img, panel], axis=1)
