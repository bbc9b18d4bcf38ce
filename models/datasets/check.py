"""``survey dataset check``: an exploratory report of a labelled dataset before training on it.

The report (:func:`check_dataset`, a JSON-ready dict; :func:`format_check` renders it) gives:

- format, class list, images and instances per class, images without labels;
- instance sizes: area in pixels and as a fraction of the image (percentiles), COCO size
  buckets (small < 32², medium < 96², large), box aspect ratios;
- image sizes seen;
- unreadable images (every image is fully decoded), named, skipped and counted, plus label
  files or entries the importer skipped;
- exact duplicates (same bytes) and near duplicates (256-bit difference hash within
  ``near_bits`` bits), and duplicates that straddle two splits (a validation leak);
- class imbalance warnings (classes without instances, fewer than ``min_instances``, or
  a most/least frequent ratio above ``imbalance_ratio``);
- the split: the source's own when it has two or more, else a seeded stratified
  train/val/test split (:func:`~models.datasets.split.split_records`) with per-class counts.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from models.datasets.base import LabelledDataset
from models.datasets.sources import DatasetSpec, load_dataset, native_splits, parse_spec
from models.datasets.split import DEFAULT_FRACTIONS, group_key, split_records

__all__ = ["check_dataset", "dhash", "format_check"]


def dhash(img: Image.Image, size: int = 16) -> np.ndarray:
    """Difference hash: signs of horizontal gradients of a grey ``size+1`` x ``size`` thumbnail.

    Returns ``size * size`` bits as a bool array; near-identical images differ in few bits.

    Examples
    --------
    >>> a = Image.fromarray(np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1)))
    >>> int(dhash(a).sum()), dhash(a).size
    (256, 256)
    """
    g = np.asarray(img.convert("L").resize((size + 1, size), Image.Resampling.BOX), dtype=np.int16)
    return (g[:, 1:] > g[:, :-1]).ravel()


def _pct(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    v = np.asarray(values, np.float64)
    q = np.percentile(v, [0, 10, 50, 90, 100])
    return {
        k: round(float(x), 6)
        for k, x in zip(("min", "p10", "median", "p90", "max"), q, strict=True)
    }


def _near_groups(hashes: dict[str, np.ndarray], bits: int) -> list[list[str]]:
    names = sorted(hashes)
    if len(names) < 2:
        return []
    h = np.stack([hashes[n] for n in names])
    parent = list(range(len(names)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(names) - 1):
        dist = (h[i + 1 :] != h[i]).sum(1)
        for j in np.flatnonzero(dist <= bits):
            parent[find(i)] = find(int(i + 1 + j))
    groups: dict[int, list[str]] = defaultdict(list)
    for i, n in enumerate(names):
        groups[find(i)].append(n)
    return [g for g in groups.values() if len(g) > 1]


def _split_table(parts: dict[str, LabelledDataset]) -> dict[str, Any]:
    return {
        name: {
            "images": len(ds),
            "instances": ds.instance_counts(),
            "unlabelled": sum(not r["annotations"] for r in ds.records),
        }
        for name, ds in parts.items()
    }


def check_dataset(
    spec: str | Path | DatasetSpec,
    *,
    seed: int = 0,
    fractions: dict[str, float] | None = None,
    near_bits: int = 8,
    min_instances: int = 10,
    imbalance_ratio: float = 10.0,
    max_listed: int = 20,
    progress: bool = False,
) -> dict[str, Any]:
    """Check a dataset (see the module docstring); returns a JSON-ready report dict."""
    if not isinstance(spec, DatasetSpec):
        spec = parse_spec(spec, seed=seed)
    ds = load_dataset(spec)
    warnings: list[str] = []
    classes = ds.classes

    # --- decode every image once: unreadable files, exact and near duplicates
    sha: dict[str, list[str]] = defaultdict(list)
    hashes: dict[str, np.ndarray] = {}
    unreadable: list[str] = []
    sizes: Counter[str] = Counter()
    it: Any = ds.records
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(ds.records, desc="check", unit="img")
    readable = []
    for r in it:
        fn = r["file_name"]
        try:
            data = Path(fn).read_bytes()
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                hashes[fn] = dhash(im)
                sizes[f"{im.size[0]}x{im.size[1]}"] += 1
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
            unreadable.append(f"{fn}: {exc}")
            continue
        sha[hashlib.sha1(data).hexdigest()].append(fn)
        readable.append(r)
    exact = [sorted(v) for v in sha.values() if len(v) > 1]
    near = _near_groups(hashes, near_bits)

    # --- classes and instance sizes
    counts: Counter[int] = Counter()
    images_with: Counter[int] = Counter()
    areas: dict[int, list[float]] = defaultdict(list)
    rel: dict[int, list[float]] = defaultdict(list)
    aspect: dict[int, list[float]] = defaultdict(list)
    buckets: dict[int, Counter[str]] = defaultdict(Counter)
    unlabelled = []
    for r in readable:
        if not r["annotations"]:
            unlabelled.append(r["file_name"])
        img_area = float(r["height"] * r["width"])
        for c in {a["category_id"] for a in r["annotations"]}:
            images_with[c] += 1
        for a in r["annotations"]:
            c = a["category_id"]
            counts[c] += 1
            x0, y0, x1, y1 = a["bbox"]
            ar = float(a.get("area") or (x1 - x0) * (y1 - y0))
            areas[c].append(ar)
            rel[c].append(ar / img_area)
            aspect[c].append(max(x1 - x0, 1e-6) / max(y1 - y0, 1e-6))
            buckets[c]["small" if ar < 32**2 else "medium" if ar < 96**2 else "large"] += 1
    per_class = {
        name: {
            "instances": counts[k],
            "images": images_with[k],
            "area_px": _pct(areas[k]),
            "area_fraction": _pct(rel[k]),
            "aspect_w_over_h": _pct(aspect[k]),
            "size_buckets": dict(buckets[k]),
        }
        for k, name in enumerate(classes)
    }
    nonzero = [counts[k] for k in range(len(classes)) if counts[k] > 0]
    for k, name in enumerate(classes):
        if counts[k] == 0:
            warnings.append(f"class {name!r} has no instances")
        elif counts[k] < min_instances:
            warnings.append(
                f"class {name!r} has only {counts[k]} instances (< {min_instances}): too few to learn reliably"
            )
    if len(nonzero) >= 2 and max(nonzero) / min(nonzero) > imbalance_ratio:
        hi = classes[max(range(len(classes)), key=lambda k: counts[k])]
        lo = classes[min((k for k in range(len(classes)) if counts[k]), key=lambda k: counts[k])]
        warnings.append(
            f"class imbalance: {hi!r} has {max(nonzero)} instances, {lo!r} {min(nonzero)} "
            f"(ratio {max(nonzero) / min(nonzero):.0f} > {imbalance_ratio:g}); consider re-sampling or class weights"
        )
    if unreadable:
        warnings.append(f"{len(unreadable)} unreadable images were skipped")
    if ds.problems:
        warnings.append(f"{len(ds.problems)} label files or entries were skipped")
    if ds.notes:
        warnings.append(f"{len(ds.notes)} label files were repaired (see repaired_labels)")
    if exact:
        warnings.append(f"{sum(len(g) - 1 for g in exact)} exact duplicate images")

    # --- split: native or computed
    native = native_splits(spec)
    if len(native) >= 2:
        parts = {
            s: load_dataset(DatasetSpec(spec.path, s, spec.fmt, spec.values, seed, spec.options))
            for s in native
        }
        split_kind = "native"
    else:
        fr = fractions or DEFAULT_FRACTIONS
        cut = split_records(readable, fr, seed=seed)
        parts = {k: ds.with_records(v, f"{ds.name}:{k}") for k, v in cut.items()}
        split_kind = (
            f"computed (seed {seed}, stratified by rarest class, copies of one photo kept together)"
        )
    where = {r["file_name"]: s for s, p in parts.items() for r in p.records}
    leaks = []
    for g in exact + near:
        splits = {s for s in (where.get(f) for f in g) if s is not None}
        if len(splits) > 1:
            leaks.append({"files": g, "splits": sorted(splits)})
    groups_across = defaultdict(set)
    for f, s in where.items():
        groups_across[group_key(f)].add(s)
    n_group_leaks = sum(len(v) > 1 for v in groups_across.values())
    if leaks:
        warnings.append(
            f"{len(leaks)} groups of duplicate images appear in more than one split (validation leak)"
        )
    if n_group_leaks:
        warnings.append(
            f"{n_group_leaks} source photos have augmented copies in more than one split"
        )
    for s, p in parts.items():
        missing = [
            c for c, n in p.instance_counts().items() if n == 0 and counts[classes.index(c)] > 0
        ]
        if missing and s != "train":
            warnings.append(f"split {s!r} has no instances of {missing}")

    return {
        "path": str(spec.path),
        "requested_split": spec.split,
        "format": ds.fmt,
        "classes": list(classes),
        "has_masks": ds.has_masks,
        "images": len(ds.records),
        "readable_images": len(readable),
        "instances": int(sum(counts.values())),
        "per_class": per_class,
        "image_sizes": dict(sizes.most_common()),
        "unlabelled_images": {"count": len(unlabelled), "files": unlabelled[:max_listed]},
        "unreadable_images": {"count": len(unreadable), "files": unreadable[:max_listed]},
        "skipped_labels": {
            "count": len(ds.problems),
            "entries": [str(p) for p in ds.problems[:max_listed]],
        },
        "duplicates": {
            "exact_groups": exact[:max_listed],
            "near_groups": near[:max_listed],
            "near_bits": near_bits,
            "exact_count": len(exact),
            "near_count": len(near),
            "across_splits": leaks[:max_listed],
        },
        "split": {"kind": split_kind, "parts": _split_table(parts)},
        "warnings": warnings,
    }


def format_check(rep: dict[str, Any]) -> str:
    """Human-readable rendering of :func:`check_dataset`'s report."""
    lines = [
        f"{rep['path']}: {rep['format']} dataset, {rep['images']} images ({rep['readable_images']} readable), "
        f"{rep['instances']} instances, masks: {'yes' if rep['has_masks'] else 'boxes only'}",
        f"image sizes: {', '.join(f'{k} ({v})' for k, v in rep['image_sizes'].items())}",
        f"{'class':24s} {'inst':>6s} {'imgs':>5s} {'area px p10/med/p90':>24s} {'small/med/large':>16s}",
    ]
    for c, d in rep["per_class"].items():
        a = d["area_px"]
        area = f"{a.get('p10', 0):.0f}/{a.get('median', 0):.0f}/{a.get('p90', 0):.0f}" if a else "-"
        b = d["size_buckets"]
        lines.append(
            f"{c[:24]:24s} {d['instances']:6d} {d['images']:5d} {area:>24s} "
            f"{b.get('small', 0):>5d}/{b.get('medium', 0)}/{b.get('large', 0)}"
        )
    u = rep["unlabelled_images"]
    lines.append(f"images without labels: {u['count']}")
    for key, title in (
        ("unreadable_images", "unreadable images (skipped)"),
        ("skipped_labels", "skipped label entries"),
    ):
        d = rep[key]
        if d["count"]:
            lines.append(f"{title}: {d['count']}")
            lines += [f"  {x}" for x in d.get("files", d.get("entries", []))]
    dup = rep["duplicates"]
    lines.append(
        f"duplicates: {dup['exact_count']} exact groups, {dup['near_count']} near groups (dHash <= {dup['near_bits']} bits)"
    )
    for g in dup["exact_groups"][:5] + dup["near_groups"][:5]:
        lines.append("  " + " = ".join(Path(f).name for f in g))
    sp = rep["split"]
    lines.append(f"split: {sp['kind']}")
    for s, d in sp["parts"].items():
        inst = ", ".join(f"{c} {n}" for c, n in d["instances"].items())
        lines.append(f"  {s:6s} {d['images']:5d} images ({d['unlabelled']} unlabelled): {inst}")
    lines += [f"warning: {w}" for w in rep["warnings"]]
    return "\n".join(lines)
