"""Comparing two evaluations (an old model and a new one on the same data).

Examples
--------
>>> from models.evaluation.report import EvalReport
>>> a = EvalReport(1, 2, 2, 0.5, 0.5, "mask", {"AP": 0.30}, {"AP": 0.20}, 1, 1, 1)
>>> b = EvalReport(1, 2, 2, 0.5, 0.5, "mask", {"AP": 0.40}, {"AP": 0.10}, 2, 0, 0)
>>> c = compare_reports(a, b)
>>> [(r["metric"], round(r["delta"], 2)) for r in c["rows"]][:2]
[('bbox/AP', 0.1), ('segm/AP', -0.1)]
"""

from __future__ import annotations

import math
from typing import Any

from models.evaluation.report import EvalReport

__all__ = ["compare_reports", "format_comparison"]


def compare_reports(a: EvalReport, b: EvalReport) -> dict[str, Any]:
    """Metric by metric: ``{"rows": [{"metric", "a", "b", "delta"}], "warnings": [...]}``."""
    fa, fb = a.flat(), b.flat()
    rows = []
    for k in list(fa) + [k for k in fb if k not in fa]:
        va, vb = fa.get(k, math.nan), fb.get(k, math.nan)
        rows.append({"metric": k, "a": va, "b": vb, "delta": vb - va})
    warnings = []
    if a.n_images != b.n_images:
        warnings.append(
            f"the runs were evaluated on different image counts ({a.n_images} vs {b.n_images})"
        )
    if set(a.per_class) != set(b.per_class):
        warnings.append(f"class lists differ: {sorted(a.per_class)} vs {sorted(b.per_class)}")
    return {
        "a": a.meta.get("run"),
        "b": b.meta.get("run"),
        "datasets": a.meta.get("datasets"),
        "rows": rows,
        "warnings": warnings,
    }


def _f(v: float) -> str:
    return "   n/a" if math.isnan(v) else f"{100 * v:6.1f}"


def format_comparison(comp: dict[str, Any], name_a: str = "A", name_b: str = "B") -> str:
    """A table of percentages: metric, A, B, B - A."""
    lines = [f"A = {name_a}", f"B = {name_b}", f"{'metric':32s} {'A':>6s} {'B':>6s} {'B-A':>7s}"]
    for r in comp["rows"]:
        d = r["delta"]
        lines.append(
            f"{r['metric'][:32]:32s} {_f(r['a'])} {_f(r['b'])} {'    n/a' if math.isnan(d) else f'{100 * d:+7.1f}'}"
        )
    lines += [f"warning: {w}" for w in comp["warnings"]]
    return "\n".join(lines)
