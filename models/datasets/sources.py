"""Dataset specs (``PATH[:SPLIT]`` or a TOML file) -> one :class:`LabelledDataset`.

A spec names a labelled source and optionally a split::

    ../shared/data/defects/uav75:train          # the source's own split
    ../shared/data/defects/neu_det:val          # no native splits: a seeded stratified split
    annotations/instances_val.json              # a COCO file
    my_dataset.toml                             # several sources and a class list

The format is detected from the folder (COCO JSON, labelme, VOC, mask PNGs, YOLO). Native
splits come from the layout (``train_img``/``val_img``, ``train/``/``valid/``, ``train.txt``,
``ImageSets/Main``, ``instances_train*.json``); when a source has none, ``train``/``val``/``test``
are cut 80/10/10 by :func:`models.datasets.split.split_records` with the given seed. ``all`` is
everything.

A dataset TOML file::

    name = "rail-defects"
    classes = ["crack", "spalling"]          # optional; default: union of the sources' classes
    [aliases]                                # optional: source class name -> class name
    "broken_rail" = "crack"
    [[sources]]
    path = "../shared/data/defects/uav75"    # relative to this file
    split = "train"
    values = { "255" = "crack" }             # mask PNGs: pixel value -> class (default UAV75's)
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from models.datasets.base import LabelledDataset, Problem, remap_classes
from models.datasets.coco import load_coco, looks_like_coco
from models.datasets.labelme import load_labelme, looks_like_labelme
from models.datasets.masks import load_mask_pngs, mask_layout, mask_splits
from models.datasets.split import split_records
from models.datasets.voc import load_voc, looks_like_voc, voc_splits
from models.datasets.yolo import load_yolo, looks_like_yolo, yolo_splits
from models.errors import DatasetError, DatasetNotFoundError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (the Jetson's JetPack 6): the same parser from PyPI
    import tomli as tomllib

__all__ = [
    "FORMATS",
    "DatasetSpec",
    "combine",
    "detect_format",
    "load_dataset",
    "native_splits",
    "parse_spec",
]

FORMATS = ("coco", "labelme", "voc", "masks", "yolo")
_SPLIT_RE = re.compile(r"^[A-Za-z][\w-]*$")


@dataclass(frozen=True)
class DatasetSpec:
    """One labelled source: path, split (None = all), format (None = detect), options."""

    path: Path
    split: str | None = None
    fmt: str | None = None
    values: Mapping[int | tuple[int, int, int], str] | None = None
    seed: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.path}:{self.split}" if self.split else str(self.path)


def parse_spec(text: str | Path, *, seed: int = 0) -> DatasetSpec:
    """``PATH[:SPLIT]`` -> :class:`DatasetSpec` (a path that exists as written wins).

    Examples
    --------
    >>> parse_spec("data/uav75:train")
    DatasetSpec(path=PosixPath('data/uav75'), split='train', fmt=None, values=None, seed=0, options={})
    """
    s = str(text)
    if Path(s).exists() or ":" not in s:
        return DatasetSpec(Path(s), None, seed=seed)
    head, _, tail = s.rpartition(":")
    if _SPLIT_RE.match(tail):
        return DatasetSpec(Path(head), None if tail == "all" else tail, seed=seed)
    return DatasetSpec(Path(s), None, seed=seed)


def _coco_files(folder: Path) -> dict[str, Path]:
    files = [
        p
        for p in sorted(folder.glob("*.json")) + sorted(folder.glob("annotations/*.json"))
        if looks_like_coco(p)
    ]
    out = {}
    for p in files:
        m = re.search(r"(train|val|valid|test)", p.stem, re.IGNORECASE)
        key = m.group(1).lower().replace("valid", "val") if m else p.stem
        out[key] = p
    return out


def detect_format(path: Path) -> str:
    """The format of a dataset path (see :data:`FORMATS`)."""
    if not path.exists():
        raise DatasetNotFoundError("dataset path does not exist", path=path)
    if path.is_file():
        if looks_like_coco(path):
            return "coco"
        raise DatasetError("a dataset file must be COCO JSON (or a dataset .toml)", path=path)
    if _coco_files(path):
        return "coco"
    if looks_like_yolo(path):
        return "yolo"
    if looks_like_voc(path):
        return "voc"
    if mask_layout(path):
        return "masks"
    if looks_like_labelme(path):
        return "labelme"
    raise DatasetError(
        "no known dataset layout: expected COCO JSON, labelme JSONs, VOC (Annotations/ + JPEGImages/), "
        "mask PNGs (<split>_img/ + <split>_lab/, or images/ + masks/) or YOLO (data.yaml, <split>/images)",
        path=path,
    )


def _choose(
    spec: DatasetSpec,
    name: str,
    native: Mapping[str, Callable[[str], LabelledDataset]],
    load_all: Callable[[str], LabelledDataset],
) -> LabelledDataset:
    """Pick the requested split: native when the source has two or more, else computed."""
    if spec.split is None:
        return load_all(name)
    label = f"{name}:{spec.split}"
    if len(native) >= 2:
        if spec.split not in native:
            raise DatasetNotFoundError(
                f"no split {spec.split!r}; this source has {sorted(native)} or 'all'",
                path=spec.path,
            )
        return native[spec.split](label)
    ds = load_all(name)
    parts = split_records(ds.records, seed=spec.seed)
    if spec.split not in parts:
        raise DatasetNotFoundError(
            f"no split {spec.split!r}; use train, val, test or all", path=spec.path
        )
    return ds.with_records(parts[spec.split], label)


def _named(fn: Callable[..., LabelledDataset], *args: Any, **kw: Any) -> LabelledDataset:
    """``fn(*args, **kw)`` with the dataset name passed last (``partial(_named, ...)(name)``)."""
    *pos, name = args
    return fn(*pos, name=name, **kw)


def _loaders(
    spec: DatasetSpec, *, strict: bool
) -> tuple[dict[str, Callable[[str], LabelledDataset]], Callable[[str], LabelledDataset]]:
    """``(native split loaders, whole-source loader)`` of a folder or COCO-file spec."""
    path = spec.path
    fmt = spec.fmt or detect_format(path)
    opts = dict(spec.options)
    native: dict[str, Callable[[str], LabelledDataset]] = {}
    if fmt == "coco":
        files = {"all": path} if path.is_file() else _coco_files(path)
        root = opts.get("image_root")
        native = {k: partial(_named, load_coco, f, root, strict=strict) for k, f in files.items()}

        def load_all(n: str) -> LabelledDataset:
            if len(files) == 1:
                return load_coco(next(iter(files.values())), root, name=n, strict=strict)
            return combine([fn(f"{n}:{k}") for k, fn in native.items()], name=n)

    elif fmt == "yolo":
        splits = yolo_splits(path)
        native = {k: partial(_named, load_yolo, path, k, strict=strict) for k in splits}

        def load_all(n: str) -> LabelledDataset:
            return load_yolo(path, None, name=n, strict=strict)

    elif fmt == "voc":
        ids = voc_splits(path)
        native = {k: partial(_named, load_voc, path, ids=v, strict=strict) for k, v in ids.items()}

        def load_all(n: str) -> LabelledDataset:
            return load_voc(path, name=n, strict=strict)

    elif fmt == "masks":
        layout = mask_layout(path) or {}
        kw: dict[str, Any] = {"values": spec.values, "strict": strict}
        kw.update({k: opts[k] for k in ("link_px", "min_area_px") if k in opts})
        if "all" not in layout:  # <split>_img / <split>_lab
            native = {
                k: partial(_named, load_mask_pngs, d[0], d[1], **kw) for k, d in layout.items()
            }

            def load_all(n: str) -> LabelledDataset:
                return combine([fn(f"{n}:{k}") for k, fn in native.items()], name=n)

        else:
            img_dir, lab_dir = layout["all"]
            lists = mask_splits(path)
            native = {
                k: partial(_named, load_mask_pngs, img_dir, lab_dir, stems=v, **kw)
                for k, v in lists.items()
            }

            def load_all(n: str) -> LabelledDataset:
                return load_mask_pngs(img_dir, lab_dir, name=n, **kw)

    elif fmt == "labelme":
        lw = {k: opts[k] for k in ("line_width_px",) if k in opts}

        def load_all(n: str) -> LabelledDataset:
            return load_labelme(path, name=n, strict=strict, **lw)

    else:
        raise DatasetError(
            f"unknown dataset format {fmt!r}; known: {', '.join(FORMATS)}", path=path
        )
    return native, load_all


def _load_one(spec: DatasetSpec, *, strict: bool) -> LabelledDataset:
    native, load_all = _loaders(spec, strict=strict)
    name = spec.path.stem if spec.path.is_file() else spec.path.name
    return _choose(spec, name, native, load_all)


def native_splits(spec: str | Path | DatasetSpec) -> list[str]:
    """The source's own split names when it has two or more (else ``[]``: splits are computed)."""
    if not isinstance(spec, DatasetSpec):
        spec = parse_spec(spec)
    if spec.path.suffix.lower() == ".toml":
        return []
    native, _ = _loaders(spec, strict=False)
    return sorted(native) if len(native) >= 2 else []


def combine(
    datasets: Sequence[LabelledDataset],
    classes: Sequence[str] | None = None,
    *,
    name: str | None = None,
    aliases: dict[str, str] | None = None,
) -> LabelledDataset:
    """Concatenate datasets onto one class list (default: union of theirs, in order met).

    Image ids are prefixed with each dataset's name so they stay unique.
    """
    if not datasets:
        raise DatasetError("no datasets to combine")
    if classes is None:
        alias = {k.lower(): v for k, v in (aliases or {}).items()}
        seen: dict[str, str] = {}
        for ds in datasets:
            for c in ds.classes:
                c2 = alias.get(c.lower(), c)
                seen.setdefault(c2.lower(), c2)
        classes = list(seen.values())
    records: list[dict[str, Any]] = []
    problems: list[Problem] = []
    notes: list[Problem] = []
    for ds in datasets:
        ds2 = remap_classes(ds, classes, aliases=aliases)
        prefix = ds.name if len(datasets) > 1 else ""
        for r in ds2.records:
            records.append(
                {**r, "image_id": f"{prefix}/{r['image_id']}" if prefix else r["image_id"]}
            )
        problems += ds.problems
        notes += ds.notes
    fmts = sorted({d.fmt for d in datasets})
    return LabelledDataset(
        name=name or "+".join(d.name for d in datasets),
        fmt=fmts[0] if len(fmts) == 1 else "mixed",
        classes=tuple(classes),
        records=records,
        problems=problems,
        has_masks=all(d.has_masks for d in datasets),
        notes=notes,
    )


def _load_toml(path: Path, split: str | None, seed: int, strict: bool) -> LabelledDataset:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DatasetError(f"not valid TOML ({exc})", path=path) from exc
    srcs = doc.get("sources")
    if not isinstance(srcs, list) or not srcs:
        raise DatasetError("needs at least one [[sources]] table", path=path, where="sources")
    parts = []
    for k, s in enumerate(srcs):
        if not isinstance(s, dict) or "path" not in s:
            raise DatasetError("each source needs a 'path'", path=path, where=f"sources[{k}]")
        unknown = set(s) - {
            "path",
            "split",
            "format",
            "values",
            "link_px",
            "min_area_px",
            "line_width_px",
            "image_root",
        }
        if unknown:
            raise DatasetError(f"unknown keys {sorted(unknown)}", path=path, where=f"sources[{k}]")
        values: dict[int | tuple[int, int, int], str] | None = None
        if "values" in s:
            try:
                values = {int(v): str(c) for v, c in dict(s["values"]).items()}
            except (TypeError, ValueError) as exc:
                raise DatasetError(
                    f"values: pixel value -> class name ({exc})",
                    path=path,
                    where=f"sources[{k}].values",
                ) from exc
        sp = s.get("split", split)
        parts.append(
            _load_one(
                DatasetSpec(
                    (path.parent / s["path"]).resolve(),
                    None if sp in (None, "all") else sp,
                    s.get("format"),
                    values,
                    seed,
                    {
                        o: s[o]
                        for o in ("link_px", "min_area_px", "line_width_px", "image_root")
                        if o in s
                    },
                ),
                strict=strict,
            )
        )
    return combine(
        parts, doc.get("classes"), name=str(doc.get("name", path.stem)), aliases=doc.get("aliases")
    )


def load_dataset(
    spec: str | Path | DatasetSpec,
    *,
    classes: Sequence[str] | None = None,
    seed: int = 0,
    strict: bool = False,
) -> LabelledDataset:
    """Load a dataset spec (see the module docstring), optionally onto a class list."""
    if not isinstance(spec, DatasetSpec):
        spec = parse_spec(spec, seed=seed)
    if spec.path.suffix.lower() == ".toml" and spec.path.is_file():
        ds = _load_toml(spec.path, spec.split, spec.seed, strict)
    else:
        ds = _load_one(spec, strict=strict)
    return remap_classes(ds, classes) if classes is not None else ds
