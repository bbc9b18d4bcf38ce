"""Advisory severity (1-5) and recommended action per defect, after docs/domain.md's table.

Severity is **advisory**: a competent person sets the action. The rules are a proposal and every
number is configurable (``[severity]`` in the config):

- rail: a base level per class (broken rail 5; joint defect 4; missing fastener, sleeper defect,
  rail-head damage 3; corrugation, vegetation, ballast, drainage 2; obstruction 5), and missing
  fasteners in a cluster (``fastener_cluster_n`` within ``fastener_cluster_m`` of chainage on
  the same side) rise to 4.
- pipelines / district heating: a leak candidate is 4 when its thermal contrast is at least
  ``leak_dt_high_k`` and its area at least ``leak_area_high_m2``, 3 from ``leak_dt_mid_k``, else
  2; steam/water at the surface and digging on the route are 5, exposed pipe 4, insulation loss,
  coating corrosion and erosion 3, vegetation stress 2, false positives 1.

Examples
--------
>>> import numpy as np
>>> from survey.config import ConfigError, SeverityConfig
>>> assess_severity(np.array(["leak_candidate"] * 3), delta_t_k=np.array([4.0, 2.0, 0.5]),
...                 area_m2=np.array([3.0, 3.0, 3.0]), config=SeverityConfig()).tolist()
[4, 3, 2]
>>> recommended_action(np.array(["rail", "pipeline"]), np.array([5, 4]), SeverityConfig()).tolist()
['Block the line or impose an emergency speed restriction now', 'Verify within a week']
"""

from __future__ import annotations

import numpy as np

from survey.config import ConfigError, SeverityConfig
from survey.defects.schema import DefectError

__all__ = ["BASE_LEVELS", "assess_severity", "class_levels", "recommended_action"]

#: Built-in base level per class (docs/domain.md proposal); overridden by ``severity.levels``.
BASE_LEVELS: dict[str, int] = {
    # rail
    "broken_rail": 5,
    "obstruction": 5,
    "joint_defect": 4,
    "missing_fastener": 3,
    "fastening_defect": 3,
    "sleeper_defect": 3,
    "rail_head_damage": 3,
    "corrugation": 2,
    "ballast_defect": 2,
    "vegetation": 2,
    "drainage": 2,
    # pipelines / district heating
    "surface_steam_water": 5,
    "third_party_activity": 5,
    "exposed_pipe": 4,
    "leak_candidate": 3,
    "insulation_loss": 3,
    "coating_corrosion": 3,
    "erosion_subsidence": 3,
    "vegetation_stress": 2,
    "false_positive": 1,
}


def class_levels(config: SeverityConfig) -> dict[str, int]:
    """The base level per class: built-in table with ``config.levels`` ("class=N") over it."""
    levels = dict(BASE_LEVELS)
    for item in config.levels:
        name, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit() or not 1 <= int(value) <= 5:
            raise ConfigError(
                f"expected 'class=N' with N in 1..5, got {item!r}", where="severity.levels"
            )
        levels[name.strip()] = int(value)
    return levels


def assess_severity(
    class_name: np.ndarray,
    *,
    delta_t_k: np.ndarray,
    area_m2: np.ndarray,
    config: SeverityConfig,
    chainage_m: np.ndarray | None = None,
    side: np.ndarray | None = None,
) -> np.ndarray:
    """Advisory severity 1..5 for each defect (vectorized over parallel arrays).

    Unknown classes get level 3 (act within weeks) so that nothing new is under-rated.
    ``chainage_m`` and ``side`` enable the missing-fastener cluster rule.
    """
    cls = np.asarray(class_name, dtype=object)
    levels = class_levels(config)
    sev = np.array([levels.get(c, 3) for c in cls], dtype=np.int64)
    dt = np.asarray(delta_t_k, dtype=float)
    area = np.asarray(area_m2, dtype=float)
    leak = cls == "leak_candidate"
    with np.errstate(invalid="ignore"):
        high = (dt >= config.leak_dt_high_k) & (area >= config.leak_area_high_m2)
        mid = dt >= config.leak_dt_mid_k
    sev[leak] = np.where(high, 4, np.where(mid, 3, 2))[leak]
    if chainage_m is not None and config.fastener_cluster_n > 1:
        ch = np.asarray(chainage_m, dtype=float)
        sides = np.asarray(side if side is not None else [""] * len(cls), dtype=object)
        for s in np.unique(sides):
            sel = np.flatnonzero((cls == "missing_fastener") & (sides == s) & np.isfinite(ch))
            if len(sel) < config.fastener_cluster_n:
                continue
            order = sel[np.argsort(ch[sel], kind="stable")]
            c = ch[order]
            # every window [c_j, c_j + cluster_m] holding >= n fasteners marks all of them
            ends = np.searchsorted(c, c + config.fastener_cluster_m, "right")
            starts = np.flatnonzero(ends - np.arange(len(c)) >= config.fastener_cluster_n)
            cover = np.zeros(len(c) + 1, np.int64)
            np.add.at(cover, starts, 1)
            np.add.at(cover, ends[starts], -1)
            hit = order[np.cumsum(cover[:-1]) > 0]
            sev[hit] = np.maximum(sev[hit], 4)
    return sev


def recommended_action(
    asset_kind: np.ndarray, severity: np.ndarray, config: SeverityConfig
) -> np.ndarray:
    """The configured action text for each (asset kind, severity)."""
    kinds = np.asarray(asset_kind, dtype=object)
    sev = np.asarray(severity, dtype=np.int64)
    if len(sev) and (sev.min() < 1 or sev.max() > 5):
        raise DefectError(f"severity must be 1..5, got {sorted(set(sev.tolist()))}")
    rail = np.asarray(config.actions_rail, dtype=object)
    pipe = np.asarray(config.actions_pipeline, dtype=object)
    return np.where(kinds == "pipeline", pipe[sev - 1], rail[sev - 1]).astype(object)
