"""Images and per-pixel targets of the semantic model (records from the project's importers)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from models.datasets.masks import load_mask_pngs
from models.datasets.sources import load_dataset
from models.errors import DatasetError, ImageReadError
from models.semseg.data import read_image_bgr, read_target
from models.semseg.mapper import CrackSemanticMapper


def test_read_image_variants_and_corrupt_files(tmp_path: Path) -> None:
    grey = tmp_path / "g.png"
    cv2.imwrite(str(grey), np.full((5, 7), 9, np.uint8))
    assert read_image_bgr(grey).shape == (5, 7, 3)
    deep = tmp_path / "d.png"
    cv2.imwrite(str(deep), np.full((5, 7, 3), 65535, np.uint16))
    out = read_image_bgr(deep)
    assert out.dtype == np.uint8 and out.max() == 255
    bgra = tmp_path / "a.png"
    cv2.imwrite(str(bgra), np.full((5, 7, 4), 3, np.uint8))
    assert read_image_bgr(bgra).shape == (5, 7, 3)
    bad = tmp_path / "bad.jpg"
    good = cv2.imencode(".jpg", np.zeros((50, 50, 3), np.uint8))[1].tobytes()
    bad.write_bytes(good[:20])  # truncated
    with pytest.raises(ImageReadError, match=r"bad.jpg: not a readable image"):
        read_image_bgr(bad)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="not a readable"):
        read_image_bgr(tmp_path / "empty.png")
    with pytest.raises(ImageReadError, match="not found"):
        read_image_bgr(tmp_path / "missing.png")


def _uav75_like(root: Path) -> tuple[Path, Path]:
    img, lab = root / "train_img", root / "train_lab"
    img.mkdir(parents=True)
    lab.mkdir()
    cv2.imwrite(str(img / "x.jpg"), np.zeros((6, 8, 3), np.uint8))
    rgba = np.zeros((6, 8, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[2, :, :3] = 255  # crack (white)
    rgba[:, 6, :3] = 204  # formwork joint (grey), drawn over the crack at (2, 6)
    cv2.imwrite(str(lab / "x.png"), rgba)
    return img, lab


def test_targets_keep_planking_as_background_with_the_crack_class_list(tmp_path: Path) -> None:
    from models.datasets.base import remap_classes

    img, lab = _uav75_like(tmp_path)
    ds = load_mask_pngs(img, lab)
    assert ds.classes == ("crack", "planking")
    both = read_target(ds.records[0], (6, 8))
    assert (both[2, :6] == 1).all() and (both[:, 6] == 2).all()
    crack_only = remap_classes(ds, ["crack"])
    t = read_target(crack_only.records[0], (6, 8))
    assert int((t == 1).sum()) == 7 and set(np.unique(t)) == {0, 1}
    assert (t[:, 6] == 0).all()  # the joint is background: a hard negative
    with pytest.raises(DatasetError, match="label is 8x6 but the image is 9x6"):
        read_target(ds.records[0], (6, 9))


def test_mapper_skips_unreadable_records(tmp_path: Path) -> None:
    from models.semseg.augment import AugmentParams

    img, lab = _uav75_like(tmp_path)
    ds = load_mask_pngs(img, lab)
    (img / "x.jpg").write_bytes(b"garbage")  # broken after the dataset was listed

    assert CrackSemanticMapper(AugmentParams(crop_px=4))(ds.records[0]) is None


def test_shared_crack_sets(shared_data: Path) -> None:
    d = shared_data / "defects"
    uav = load_dataset(f"{d / 'uav75'}:val")
    cc0 = load_dataset(f"{d / 'uav_crack_cc0'}:val")
    assert len(uav.records) == 10 and len(cc0.records) == 63
    from models.datasets.base import remap_classes

    rec = remap_classes(uav, ["crack"]).records[0]
    t = read_target(rec, read_image_bgr(rec["file_name"]).shape[:2])
    raw = cv2.imread(rec["label_file"], cv2.IMREAD_UNCHANGED)
    assert int((t == 1).sum()) == int((raw[..., 0] == 255).sum()) > 0
    assert int((t == 1).sum()) < int((raw[..., 0] >= 128).sum())  # grey joints are not cracks
    t2 = read_target(cc0.records[0])
    raw2 = cv2.imread(cc0.records[0]["label_file"], cv2.IMREAD_UNCHANGED)
    assert int((t2 == 1).sum()) == int((raw2 == 255).sum()) > 0
