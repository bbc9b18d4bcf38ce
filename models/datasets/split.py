"""Seeded, stratified train/val/test splits that keep copies of one photo together.

Each image is put in a stratum by its rarest class (by instance count over the whole set;
unlabelled images form their own stratum), so every split sees every class as far as the counts
allow: a stratum with at least as many photos as splits gives each split one or more. Augmented copies of one source photo (Roboflow's ``name_jpg.rf.<hash>.jpg``) are grouped
and always land in the same split, so a model is never validated on a copy of a training image.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DEFAULT_FRACTIONS", "group_key", "split_records"]

DEFAULT_FRACTIONS: dict[str, float] = {"train": 0.8, "val": 0.1, "test": 0.1}
_RF = re.compile(r"([._-](jpe?g|png))?\.rf\.[0-9a-f]{8,}$", re.IGNORECASE)


def group_key(file_name: str) -> str:
    """The source-photo key of an image file (strips Roboflow augmentation suffixes).

    Examples
    --------
    >>> group_key("train/images/IMG_1_jpg.rf.526130c421991e8ce32e6ea7a98eac2e.jpg")
    'IMG_1'
    >>> group_key("a/DSC00550b.jpg")
    'DSC00550b'
    """
    return _RF.sub("", Path(file_name).stem)


def split_records(
    records: list[dict[str, Any]],
    fractions: Mapping[str, float] | None = None,
    *,
    seed: int = 0,
) -> dict[str, list[dict[str, Any]]]:
    """Split records into named parts with the given fractions (seeded, stratified, grouped).

    Examples
    --------
    >>> recs = [{"file_name": f"{i}.png", "image_id": str(i),
    ...          "annotations": [{"category_id": i % 2}]} for i in range(20)]
    >>> parts = split_records(recs, {"train": 0.5, "val": 0.5}, seed=1)
    >>> sorted((k, len(v)) for k, v in parts.items())
    [('train', 10), ('val', 10)]
    >>> [sum(r["annotations"][0]["category_id"] for r in v) for v in parts.values()]
    [5, 5]
    """
    fractions = dict(fractions or DEFAULT_FRACTIONS)
    total = sum(fractions.values())
    if total <= 0 or any(f < 0 for f in fractions.values()):
        raise ValueError(f"split fractions must be >= 0 and sum > 0, got {fractions}")
    names = list(fractions)
    frac = np.array([fractions[n] / total for n in names])

    counts: Counter[int] = Counter(a["category_id"] for r in records for a in r["annotations"])
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in sorted(records, key=lambda r: str(r["image_id"])):
        groups[group_key(r["file_name"])].append(r)

    def stratum(rs: list[dict[str, Any]]) -> int:
        cats = {a["category_id"] for r in rs for a in r["annotations"]}
        return min(cats, key=lambda c: (counts[c], c)) if cats else -1

    strata: dict[int, list[str]] = defaultdict(list)
    for key in sorted(groups):
        strata[stratum(groups[key])].append(key)

    rng = np.random.default_rng(seed)
    out: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    carry = np.zeros(len(names))  # fractional remainders carried across strata
    for s in sorted(strata):
        keys = strata[s]
        order = rng.permutation(len(keys))
        want = frac * len(keys) + carry
        take = np.floor(want).astype(int)
        short = len(keys) - take.sum()
        take[np.argsort(-(want - take), kind="stable")[:short]] += 1
        # a stratum with enough groups reaches every split (a rare class must be validated too)
        wanted = np.flatnonzero(frac > 0)
        if len(keys) >= len(wanted):
            for i in wanted:
                if take[i] == 0:
                    take[int(np.argmax(take))] -= 1
                    take[i] = 1
        carry = want - take
        start = 0
        for i, n in enumerate(names):
            for j in order[start : start + take[i]]:
                out[n].extend(groups[keys[j]])
            start += take[i]
    return out
