"""Dataset importers, splits, the dataset check and the catalog, on hand-made and real files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models import rle
from models.datasets.base import LabelledDataset, remap_classes
from models.datasets.catalog import register_dataset
from models.datasets.check import check_dataset
from models.datasets.coco import load_coco
from models.datasets.labelme import load_labelme
from models.datasets.masks import load_mask_pngs
from models.datasets.semantic import semantic_target
from models.datasets.sources import detect_format, load_dataset, native_splits, parse_spec
from models.datasets.split import split_records
from models.datasets.voc import load_voc
from models.datasets.yolo import load_yolo
from models.errors import DatasetError, DatasetNotFoundError


def _img(path: Path, w: int = 64, h: int = 48, value: int = 60) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), value, np.uint8)).save(path)
    return path


# ---------------------------------------------------------------- COCO
def test_coco_polygons_rle_and_skipped_entries(tmp_path: Path) -> None:
    _img(tmp_path / "images/a.png")
    _img(tmp_path / "images/b.png")
    crack = np.zeros((48, 64), bool)
    crack[10, 5:60] = True  # one pixel wide
    doc = {
        "images": [
            {"id": 1, "file_name": "a.png", "height": 48, "width": 64},
            {"id": 2, "file_name": "b.png", "height": 48, "width": 64},
            {"id": 3, "file_name": "missing.png", "height": 48, "width": 64},
        ],
        "categories": [{"id": 5, "name": "spall"}, {"id": 2, "name": "crack"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 5,
                "bbox": [1, 2, 10, 5],
                "segmentation": [[1, 2, 11, 2, 11, 7, 1, 7]],
            },
            {
                "id": 2,
                "image_id": 1,
                "category_id": 2,
                "bbox": [5, 10, 55, 1],
                "segmentation": rle.json_rle(rle.encode(crack)),
            },
            {"id": 3, "image_id": 2, "category_id": 9, "bbox": [1, 1, 2, 2]},
            {"id": 4, "image_id": 2, "category_id": 5},
        ],
    }
    (tmp_path / "ann.json").write_text(json.dumps(doc))
    ds = load_coco(tmp_path / "ann.json")
    assert ds.classes == ("crack", "spall")  # sorted by COCO id
    assert [len(r["annotations"]) for r in ds.records] == [2, 0]
    a, b = ds.records[0]["annotations"]
    assert a["category_id"] == 1 and a["bbox"] == [1, 2, 11, 7]
    assert (rle.decode(b["segmentation"]) == crack).all()  # the thin crack survives exactly
    reasons = [str(p) for p in ds.problems]
    assert any("images[2]" in r and "does not exist" in r for r in reasons)
    assert any("annotations[2]" in r and "category_id 9" in r for r in reasons)
    assert any("annotations[3]" in r for r in reasons)
    with pytest.raises(DatasetError, match="images\\[2\\]: image file"):
        load_coco(tmp_path / "ann.json", strict=True)


def test_coco_malformed_file_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text('{"images": [\n{"id": 1,,}]}')
    with pytest.raises(DatasetError, match="line 2") as e:
        load_coco(p)
    assert e.value.path == str(p)
    p.write_text('{"annotations": []}')
    with pytest.raises(DatasetError, match="missing list 'images'"):
        load_coco(p)
    with pytest.raises(DatasetNotFoundError):
        load_coco(tmp_path / "nope.json")


# ---------------------------------------------------------------- labelme
def test_labelme_shapes_groups_and_lines(tmp_path: Path) -> None:
    _img(tmp_path / "f1.jpg")
    shapes = [
        {
            "label": "spall",
            "shape_type": "polygon",
            "points": [[2, 2], [12, 2], [12, 8], [2, 8]],
            "group_id": 1,
        },
        {"label": "spall", "shape_type": "rectangle", "points": [[20, 2], [24, 6]], "group_id": 1},
        {"label": "crack", "shape_type": "linestrip", "points": [[5, 30], [60, 30]]},
        {"label": "crack", "shape_type": "point", "points": [[1, 1]]},
        {"label": "weird", "shape_type": "polygon", "points": [[1, 1], [2, 2]]},
    ]
    doc = {"shapes": shapes, "imagePath": "f1.jpg", "imageHeight": 48, "imageWidth": 64}
    (tmp_path / "f1.json").write_text(json.dumps(doc))
    (tmp_path / "labels.txt").write_text("__ignore__\ncrack\nspall\n")
    ds = load_labelme(tmp_path, line_width_px=3)
    assert ds.classes == ("crack", "spall") and detect_format(tmp_path) == "labelme"
    anns = ds.records[0]["annotations"]
    assert len(anns) == 2  # the two spall shapes (one group) are one instance; the point is skipped
    spall = next(a for a in anns if a["category_id"] == 1)
    assert spall["bbox"] == [2.0, 2.0, 24.0, 8.0]  # COCO rasterisation: pixel i spans [i, i+1)
    crack = next(a for a in anns if a["category_id"] == 0)
    m = rle.decode(crack["segmentation"])
    assert m[29:32, 5:61].all() and np.flatnonzero(m.any(axis=1)).tolist() == [29, 30, 31]
    assert np.flatnonzero(m.any(axis=0)).tolist() == list(range(4, 62))  # round ends: 1.5 px


# ---------------------------------------------------------------- VOC
def test_voc_boxes_one_based_and_size_mismatch(tmp_path: Path) -> None:
    _img(tmp_path / "JPEGImages/x.jpg", 64, 48)
    _img(tmp_path / "JPEGImages/y.jpg", 128, 96)
    xml = "<annotation><filename>{f}</filename><size><width>{w}</width><height>{h}</height></size>{o}</annotation>"
    obj = "<object><name>rust</name><bndbox><xmin>11</xmin><ymin>21</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>"
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations/x.xml").write_text(xml.format(f="x.jpg", w=64, h=48, o=obj))
    (tmp_path / "Annotations/y.xml").write_text(
        xml.format(f="y.jpg", w=64, h=48, o=obj)
    )  # image is 2x
    (tmp_path / "Annotations/z.xml").write_text("<annotation><filename>z.jpg</filename")
    ds = load_voc(tmp_path)
    assert ds.classes == ("rust",) and not ds.has_masks
    by = {r["image_id"]: r for r in ds.records}
    assert by["x"]["annotations"][0]["bbox"] == [10.0, 20.0, 30.0, 40.0]
    assert by["y"]["annotations"][0]["bbox"] == [20.0, 40.0, 60.0, 80.0] and by["y"]["width"] == 128
    assert len(ds.notes) == 1 and "declares 64x48" in str(ds.notes[0])
    assert (
        len(ds.problems) == 1
        and "z.xml" in ds.problems[0].path
        and "line 1" in ds.problems[0].where
    )


# ---------------------------------------------------------------- mask PNGs
def _uav75_like(root: Path) -> np.ndarray:
    lab = np.zeros((48, 64, 4), np.uint8)
    lab[..., 3] = 255
    lab[5:15, 30:50, :3] = 204  # planking area
    lab[30, 2:20, :3] = 255  # crack, 1 px wide, with a 2 px gap
    lab[30, 22:40, :3] = 255
    lab[40, 50, :3] = 255  # a 1-px speck (noise)
    for split in ("train", "val"):
        _img(root / f"{split}_img/a.jpg")
        (root / f"{split}_lab").mkdir(parents=True, exist_ok=True)
        Image.fromarray(lab).save(root / f"{split}_lab/a.png")
    return lab


def test_mask_pngs_instances_keep_thin_cracks(tmp_path: Path) -> None:
    lab = _uav75_like(tmp_path)
    assert detect_format(tmp_path) == "masks" and native_splits(tmp_path) == ["train", "val"]
    ds = load_dataset(f"{tmp_path}:train")
    assert ds.classes == ("crack", "planking") and ds.name.endswith(":train")
    anns = ds.records[0]["annotations"]
    cracks = [a for a in anns if a["category_id"] == 0]
    assert len(cracks) == 1  # the gap of 2 px is bridged (link_px=2), the speck dropped
    m = rle.decode(cracks[0]["segmentation"])
    assert m.sum() == 36 and m[30, 2:20].all() and not m[30, 20:22].any()
    assert cracks[0]["bbox"] == [2.0, 30.0, 40.0, 31.0]
    sem = semantic_target(ds.records[0])
    assert (sem == 1).sum() == 37 and (
        sem == 2
    ).sum() == 200  # from the label image, speck included
    split_apart = load_mask_pngs(
        tmp_path / "train_img", tmp_path / "train_lab", {255: "crack"}, link_px=0, min_area_px=1
    )
    assert split_apart.classes == ("crack",) and len(split_apart.records[0]["annotations"]) == 3
    assert lab.shape == (48, 64, 4)


def test_mask_split_lists_and_missing_label(tmp_path: Path) -> None:
    for stem in ("p", "q", "r"):
        _img(tmp_path / f"images/{stem}.png")
    (tmp_path / "masks").mkdir()
    m = np.zeros((48, 64), np.uint8)
    m[10:12, 10:40] = 255
    for stem in ("p", "q"):
        Image.fromarray(m).save(tmp_path / f"masks/{stem}.png")
    (tmp_path / "train.txt").write_text("images/p.png masks/p.png\nimages/r.png masks/r.png\n")
    (tmp_path / "val.txt").write_text("images/q.png masks/q.png\n")
    tr = load_dataset(f"{tmp_path}:train")
    assert [r["image_id"] for r in tr.records] == ["p"] and "no label image" in str(tr.problems[0])
    assert tr.classes == ("crack",)  # default palette: planking is absent from this source
    assert len(load_dataset(f"{tmp_path}:val")) == 1
    with pytest.raises(DatasetNotFoundError, match="no split 'test'"):
        load_dataset(f"{tmp_path}:test")


# ---------------------------------------------------------------- YOLO
def test_yolo_boxes_polygons_and_bad_rows(tmp_path: Path) -> None:
    (tmp_path / "data.yaml").write_text("names:\n  0: clip\n  1: bolt\nnc: 2\n")
    _img(tmp_path / "train/images/a_jpg.rf.0123456789abcdef.jpg", 100, 50)
    (tmp_path / "train/labels").mkdir(parents=True)
    (tmp_path / "train/labels/a_jpg.rf.0123456789abcdef.txt").write_text(
        "0 0.5 0.5 0.2 0.4\n1 0.1 0.1 0.3 0.1 0.3 0.3\n1 0.5 0.5\n7 0.5 0.5 0.1 0.1\n"
    )
    ds = load_yolo(tmp_path)
    assert ds.classes == ("clip", "bolt") and not ds.has_masks
    a, b = ds.records[0]["annotations"]
    assert a["bbox"] == pytest.approx([40, 15, 60, 35]) and "segmentation" not in a
    assert b["bbox"] == pytest.approx([10, 5, 30, 15]) and b["segmentation"] == [
        pytest.approx([10, 5, 30, 5, 30, 15])
    ]
    where = sorted(p.where for p in ds.problems)
    assert where == ["line 3", "line 4"]


# ---------------------------------------------------------------- splits, specs, TOML, catalog
def test_split_is_seeded_stratified_and_keeps_copies_together() -> None:
    recs = []
    for i in range(30):
        for copy in range(2):  # two augmented copies of each photo
            recs.append(
                {
                    "file_name": f"p{i}_jpg.rf.{copy:032x}.jpg",
                    "image_id": f"{i}-{copy}",
                    "annotations": [{"category_id": 1 if i % 10 == 0 else 0}],
                }
            )
    a = split_records(recs, seed=4)
    b = split_records(recs, seed=4)
    assert {k: [r["image_id"] for r in v] for k, v in a.items()} == {
        k: [r["image_id"] for r in v] for k, v in b.items()
    }
    assert [len(a[k]) for k in ("train", "val", "test")] == [44, 8, 8]
    where = {r["file_name"].split("_")[0]: k for k, v in a.items() for r in v}
    for k, v in a.items():
        assert all(where[r["file_name"].split("_")[0]] == k for r in v)
    # the rare class (3 photos) reaches more than one split
    assert sum(any(r["annotations"][0]["category_id"] == 1 for r in v) for v in a.values()) >= 2


def test_spec_parsing_toml_and_catalog(tmp_path: Path) -> None:
    assert parse_spec("a/b:val").split == "val" and parse_spec("a/b").split is None
    _uav75_like(tmp_path / "uav")
    toml = tmp_path / "set.toml"
    toml.write_text(
        'name = "mine"\nclasses = ["defect"]\n[aliases]\ncrack = "defect"\n'
        '[[sources]]\npath = "uav"\nsplit = "train"\nvalues = { "255" = "crack" }\n'
    )
    ds = load_dataset(toml)
    assert ds.name == "mine" and ds.classes == ("defect",) and ds.instance_counts() == {"defect": 1}
    (tmp_path / "bad.toml").write_text("[[sources]]\nsplit = 'x'\n")
    with pytest.raises(DatasetError, match="needs a 'path'"):
        load_dataset(tmp_path / "bad.toml")
    from detectron2.data import DatasetCatalog, MetadataCatalog

    name = register_dataset("test-mine", ds)
    assert len(DatasetCatalog.get(name)) == 1 and MetadataCatalog.get(name).thing_classes == [
        "defect"
    ]
    assert MetadataCatalog.get(name).stuff_classes == ["background", "defect"]
    assert remap_classes(ds, ["other"]).instance_counts() == {"other": 0}


def test_dataset_check_finds_duplicates_unreadable_unlabelled(tmp_path: Path) -> None:
    root = tmp_path / "set"
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(
            root / f"images/{i}.png"
        )
    (root / "images/copy.png").write_bytes((root / "images/3.png").read_bytes())
    (root / "images/broken.png").write_bytes((root / "images/4.png").read_bytes()[:100])
    images = [
        {"id": i, "file_name": f"{n}.png", "height": 40, "width": 40}
        for i, n in enumerate([*range(12), "copy", "broken"])
    ]
    anns = [
        {"id": i, "image_id": i, "category_id": 1 if i else 2, "bbox": [1, 1, 5, 5]}
        for i in range(10)
    ]
    cats = [{"id": 1, "name": "common"}, {"id": 2, "name": "rare"}]
    (root / "ann.json").write_text(
        json.dumps({"images": images, "annotations": anns, "categories": cats})
    )
    rep = check_dataset(root, seed=0)
    assert rep["images"] == 14 and rep["readable_images"] == 13
    assert (
        rep["unreadable_images"]["count"] == 1
        and "broken.png" in rep["unreadable_images"]["files"][0]
    )
    assert rep["unlabelled_images"]["count"] == 3  # 10, 11 and the copy
    assert rep["duplicates"]["exact_count"] == 1
    assert {Path(f).name for f in rep["duplicates"]["exact_groups"][0]} == {"3.png", "copy.png"}
    assert (
        rep["per_class"]["common"]["instances"] == 9 and rep["per_class"]["rare"]["instances"] == 1
    )
    assert any("'rare' has only 1" in w for w in rep["warnings"])
    assert sum(p["images"] for p in rep["split"]["parts"].values()) == 13


# ---------------------------------------------------------------- the shared real datasets
def test_real_datasets_import(shared_data: Path) -> None:
    d = shared_data / "defects"
    tr, va = load_dataset(f"{d}/uav75:train"), load_dataset(f"{d}/uav75:val")
    assert (len(tr), len(va)) == (17, 10) and tr.classes == ("crack", "planking")
    cc = load_dataset(f"{d}/uav_crack_cc0:train", classes=["crack"])
    assert len(cc) == 189 and all(r["annotations"] for r in cc.records)  # no mask is empty
    assert len(load_dataset(f"{d}/uav_crack_cc0:val")) == 63
    # some images are RGBA: read as RGB
    from models.images import read_rgb

    rec = next(r for r in load_dataset(f"{d}/uav_crack_cc0").records if r["image_id"] == "DJI2140")
    assert rec["annotations"] and read_rgb(rec["file_name"]).shape == (448, 448, 3)
    rail = load_dataset(d / "rail_track_components_merged")
    assert len(rail) == 127 and rail.classes[:3] == ("clip", "rail", "bolt")
    assert sum(len(r["annotations"]) for r in rail.records) == 586
    neu = load_dataset(d / "neu_det")
    assert len(neu) == 42 and len(neu.notes) == 42  # 200x200 labels on 416x416 images: scaled
    erc = load_dataset(d / "rail_elastic_clip_erc")
    assert erc.instance_counts()["elastic_clip_missing"] > 0


def test_labelled_dataset_counts() -> None:
    ds = LabelledDataset("x", "coco", ("a", "b"), [{"annotations": [{"category_id": 1}]}])
    assert ds.instance_counts() == {"a": 0, "b": 1} and len(ds) == 1
