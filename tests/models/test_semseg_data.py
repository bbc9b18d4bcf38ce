"""Image/mask datasets of the semantic model: list files, folder pairs, mask decoding, errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from models.errors import ModelError
from models.semseg.data import (
    load_folder_pairs,
    load_list_file,
    parse_dataset_spec,
    read_image_bgr,
    read_mask,
)


def test_list_file_pairs_and_errors(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for n in ("a", "b"):
        cv2.imwrite(str(tmp_path / "images" / f"{n}.png"), np.zeros((8, 8, 3), np.uint8))
        cv2.imwrite(str(tmp_path / "masks" / f"{n}.png"), np.zeros((8, 8), np.uint8))
    lst = tmp_path / "train.txt"
    lst.write_text("# two pairs\nimages/a.png masks/a.png\n\nimages/b.png masks/b.png  # b\n")
    s = load_list_file(lst)
    assert [Path(x.image_path).name for x in s] == ["a.png", "b.png"]
    assert s[0].split == "train" and s[0].mask_min_value == 128
    lst.write_text("images/a.png masks/a.png\nimages/b.png\n")
    with pytest.raises(ModelError, match=r"train.txt, line 2: expected 'IMAGE MASK'"):
        load_list_file(lst)
    lst.write_text("images/a.png masks/zz.png\n")
    with pytest.raises(ModelError, match=r"line 1: names a missing file .*zz.png"):
        load_list_file(lst)
    lst.write_text("# nothing\n")
    with pytest.raises(ModelError, match="no entries"):
        load_list_file(lst)
    with pytest.raises(ModelError, match="not found"):
        load_list_file(tmp_path / "nope.txt")


def test_folder_pairs_and_spec(tmp_path: Path) -> None:
    img, lab = tmp_path / "val_img", tmp_path / "val_lab"
    img.mkdir()
    lab.mkdir()
    for n in ("x", "y"):
        cv2.imwrite(str(img / f"{n}.jpg"), np.zeros((8, 8, 3), np.uint8))
        cv2.imwrite(str(lab / f"{n}.png"), np.zeros((8, 8), np.uint8))
    s = parse_dataset_spec(f"{img}:{lab}@255")
    assert len(s) == 2 and s[0].mask_min_value == 255 and s[0].split == "val_img"
    (img / "z.jpg").write_bytes(b"")
    with pytest.raises(ModelError, match="no mask with stem 'z'"):
        load_folder_pairs(img, lab)
    with pytest.raises(ModelError, match="not an integer"):
        parse_dataset_spec(f"{img}:{lab}@white")


def test_uav75_style_rgba_label_keeps_planking_as_background(tmp_path: Path) -> None:
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[1, :, :3] = 255  # crack (white)
    rgba[:, 4, :3] = 204  # planking (grey)
    p = tmp_path / "lab.png"
    cv2.imwrite(str(p), rgba)
    crack = read_mask(p, 255)
    assert crack[1].sum() == 5 and not crack[:, 4][[0, 2, 3]].any()  # (1, 4) is grey: drawn last
    both = read_mask(p, 128)
    assert both[:, 4].all()


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
    bad.write_bytes(good[:20])  # truncated header
    with pytest.raises(ModelError, match=r"bad.jpg: not a readable image"):
        read_image_bgr(bad)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ModelError, match="not a readable"):
        read_image_bgr(tmp_path / "empty.png")
    with pytest.raises(ModelError, match="not found"):
        read_image_bgr(tmp_path / "missing.png")
    with pytest.raises(ModelError, match="not a readable mask"):
        read_mask(bad)


def test_shared_sets_load(shared_data: Path) -> None:
    d = shared_data / "defects"
    cc0 = load_list_file(d / "uav_crack_cc0" / "val.txt")
    assert len(cc0) == 63
    uav = load_folder_pairs(d / "uav75" / "val_img", d / "uav75" / "val_lab", mask_min_value=255)
    assert len(uav) == 10
    m = read_mask(uav[0].mask_path, 255)
    raw = cv2.imread(uav[0].mask_path, cv2.IMREAD_UNCHANGED)
    assert m.sum() == int((raw[..., 0] == 255).sum()) > 0
    assert m.sum() < int((raw[..., 0] >= 128).sum())  # the grey joints are not cracks
