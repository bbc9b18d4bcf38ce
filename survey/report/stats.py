"""Statistics of a run for reports: per chainage bin, per class and severity, coverage and gaps.

Examples
--------
>>> import numpy as np
>>> merge_intervals(np.array([0.0, 5.0, 20.0]), np.array([10.0, 12.0, 30.0]))
[(0.0, 12.0), (20.0, 30.0)]
>>> gaps([(0.0, 12.0), (20.0, 30.0)], 0.0, 40.0, min_gap_m=5.0)
[(12.0, 20.0), (30.0, 40.0)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from survey.defects import DefectSet

__all__ = [
    "BinStats",
    "CoverageStats",
    "coverage_stats",
    "gaps",
    "merge_intervals",
    "per_bin",
    "severity_table",
]


@dataclass(frozen=True)
class BinStats:
    """Counts per chainage bin (parallel arrays, one entry per bin)."""

    start_m: np.ndarray
    end_m: np.ndarray
    by_severity: np.ndarray  # (n_bins, 5): final severity 1..5
    confirmed: np.ndarray
    rejected: np.ndarray
    unreviewed: np.ndarray
    covered_m: dict[str, np.ndarray]  # camera -> covered length in each bin

    @property
    def total(self) -> np.ndarray:
        """Defects per bin."""
        return self.by_severity.sum(axis=1)


@dataclass(frozen=True)
class CoverageStats:
    """Covered length and gaps of each camera over the surveyed length."""

    length_m: float
    covered_m: dict[str, float]
    intervals: dict[str, list[tuple[float, float]]]
    gaps: dict[str, list[tuple[float, float]]]

    def fraction(self, camera: str) -> float:
        """Covered share of the length, 0..1."""
        return self.covered_m.get(camera, 0.0) / self.length_m if self.length_m > 0 else 0.0


def merge_intervals(start: np.ndarray, end: np.ndarray) -> list[tuple[float, float]]:
    """Union of [start, end] intervals, sorted."""
    if len(start) == 0:
        return []
    order = np.argsort(start, kind="stable")
    out: list[list[float]] = []
    for a, b in zip(np.asarray(start, float)[order], np.asarray(end, float)[order], strict=True):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(float(a), float(b)) for a, b in out]


def gaps(
    intervals: list[tuple[float, float]], lo: float, hi: float, *, min_gap_m: float = 0.0
) -> list[tuple[float, float]]:
    """The parts of [lo, hi] outside ``intervals`` (merged), at least ``min_gap_m`` long."""
    out, pos = [], lo
    for a, b in intervals:
        if a > pos:
            out.append((pos, min(a, hi)))
        pos = max(pos, b)
    if pos < hi:
        out.append((pos, hi))
    return [(a, b) for a, b in out if b - a >= min_gap_m and b > a]


def coverage_stats(
    coverage: Any, length_m: float, *, start_m: float = 0.0, min_gap_m: float = 0.0
) -> CoverageStats:
    """Coverage per camera from a coverage layer (geo's ``COVERAGE_FIELDS`` columns)."""
    covered: dict[str, float] = {}
    ivs: dict[str, list[tuple[float, float]]] = {}
    gp: dict[str, list[tuple[float, float]]] = {}
    if coverage is not None and len(coverage):
        col = "camera" if "camera" in coverage.columns else "sensor"
        for cam in sorted(set(coverage[col])):
            sel = coverage[coverage[col] == cam]
            a = np.clip(sel.chainage_start_m.to_numpy(float), start_m, start_m + length_m)
            b = np.clip(sel.chainage_end_m.to_numpy(float), start_m, start_m + length_m)
            ivs[cam] = merge_intervals(a, b)
            covered[cam] = float(sum(y - x for x, y in ivs[cam]))
            gp[cam] = gaps(ivs[cam], start_m, start_m + length_m, min_gap_m=min_gap_m)
    return CoverageStats(length_m, covered, ivs, gp)


def _overlap(ivs: list[tuple[float, float]], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(len(a))
    for x, y in ivs:
        out += np.clip(np.minimum(b, y) - np.maximum(a, x), 0.0, None)
    return out


def per_bin(
    defects: DefectSet,
    length_m: float,
    *,
    bin_m: float = 1000.0,
    start_m: float = 0.0,
    coverage: CoverageStats | None = None,
) -> BinStats:
    """Defects per chainage bin of ``bin_m`` (the last bin may be shorter)."""
    n = max(1, int(np.ceil(length_m / bin_m - 1e-9)))
    lo = start_m + bin_m * np.arange(n)
    hi = np.minimum(lo + bin_m, start_m + length_m)
    ch = defects.chainage_m
    idx = np.clip(((ch - start_m) // bin_m), 0, n - 1).astype(np.int64)
    ok = np.isfinite(ch)
    sev = np.zeros((n, 5), np.int64)
    np.add.at(sev, (idx[ok], defects.final_severity[ok] - 1), 1)

    def count(decision: str) -> np.ndarray:
        m = ok & (defects.decision == decision)
        return np.bincount(idx[m], minlength=n)

    cov = (
        {}
        if coverage is None
        else {c: _overlap(iv, lo, hi) for c, iv in coverage.intervals.items()}
    )
    return BinStats(lo, hi, sev, count("confirmed"), count("rejected"), count("unreviewed"), cov)


def severity_table(defects: DefectSet) -> dict[str, np.ndarray]:
    """Class -> counts of final severity 1..5, classes sorted by their highest severity."""
    out: dict[str, np.ndarray] = {}
    for c in sorted(set(defects.class_name)):
        sel = defects.class_name == c
        out[c] = np.bincount(defects.final_severity[sel] - 1, minlength=5)
    return dict(sorted(out.items(), key=lambda kv: (-int(np.flatnonzero(kv[1]).max()), kv[0])))
