"""The fastening detector: its recipe's splits on the real data, and how a model suite uses a
component detector's file ``meta`` (class -> defect mapping, the coarsest GSD it runs on)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("detectron2")


def test_recipe_splits_keep_source_photos_apart(shared_data: Path) -> None:
    """No source photo (Roboflow keeps ~2.3 augmented copies of each) straddles two splits, and
    the model's classes are the datasets' own names (their data.yaml), each mapped."""
    import yaml

    from models.datasets.sources import load_dataset
    from models.datasets.split import group_key
    from models.fastening import DEFECT_CLASSES, RECIPE

    fmt = {"shared": str(shared_data)}
    keys: dict[str, set[tuple[str, str]]] = {}
    counts: dict[str, int] = {}
    for split in ("train", "val", "test"):
        keys[split], counts[split] = set(), 0
        for spec in RECIPE[split]:
            ds = load_dataset(spec.format(**fmt), seed=int(RECIPE["seed"]))
            src = spec.rsplit(":", 1)[0]
            keys[split] |= {(src, group_key(r["file_name"])) for r in ds.records}
            counts[split] += len(ds.records)
    # 127 + 48 images in the two train folders, cut 80/10/10 by source photo
    assert sum(counts.values()) == 175
    assert counts["train"] > 0.7 * 175 and counts["val"] >= 15 and counts["test"] >= 15
    assert not keys["train"] & keys["val"]
    assert not keys["train"] & keys["test"]
    assert not keys["val"] & keys["test"]
    names: list[str] = []
    for src in ("rail_track_components_merged", "rail_elastic_clip_erc"):
        doc = yaml.safe_load((shared_data / "defects" / src / "data.yaml").read_text())
        n = doc["names"]
        names += list(n.values()) if isinstance(n, dict) else list(n)
    assert list(RECIPE["classes"]) == names == list(DEFECT_CLASSES)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Mask R-CNN run of one iteration on synthetic cracks (class ``crack``)."""
    from models.semseg.synthetic import write_crack_dataset
    from models.training.engine import new_run_config, train

    tmp = tmp_path_factory.mktemp("fastening")
    root = write_crack_dataset(tmp / "data", 4, seed=3, size=96)
    cfg = new_run_config(
        "mask_rcnn_R18_FPN_jetson",
        [f"{root}:train"],
        overrides=[
            "SOLVER.IMS_PER_BATCH", "1",
            "SURVEY.AUG.CROP_SIZE", "96",
            "SURVEY.THREADS", "1",
            "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0",
            "TEST.DETECTIONS_PER_IMAGE", "5",
        ],
        max_iter=1,
    )  # fmt: skip
    run = tmp / "run"
    train(cfg, run, progress=False)
    return run


def _packaged(run: Path, dest: Path, meta: dict[str, Any]) -> Path:
    from models.default_model import package_run

    return package_run(run, dest, meta=meta, score_threshold=0.0)


def _image() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = rng.integers(90, 140, (96, 96, 3), dtype=np.uint8)
    img[20:80, 44:50] = 20  # a dark streak: something for an untrained model to score
    return img


def test_suite_maps_classes_and_skips_coarse_frames(tiny_run: Path, tmp_path: Path) -> None:
    from models.semseg.suite import ModelSuite

    plain = ModelSuite([_packaged(tiny_run, tmp_path / "plain.pth", {})], threshold=0.0)
    mapped_file = _packaged(
        tiny_run,
        tmp_path / "mapped.pth",
        {"defect_classes": {"crack": "missing_fastener"}, "max_gsd_m": 0.004, "gsd_m": 0.002},
    )
    mapped = ModelSuite([mapped_file], threshold=0.0)
    dropped = ModelSuite(
        [_packaged(tiny_run, tmp_path / "dropped.pth", {"defect_classes": {"crack": None}})],
        threshold=0.0,
    )
    img = _image()
    ref = plain(img, gsd_mm=2.0).instances
    assert ref and {d["class"] for d in ref} == {"crack"}
    assert plain.class_names == ("crack",) and mapped.class_names == ("missing_fastener",)
    assert dropped.class_names == ()
    m = mapped.members[0]
    assert (m.gsd_m, m.max_gsd_m, m.model_class_names) == (0.002, 0.004, ("crack",))
    got = mapped(img, gsd_mm=2.0).instances
    # the same detections, reported under the defect class, the model's own class kept
    assert len(got) == len(ref)
    for a, b in zip(got, ref, strict=True):
        assert a["class"] == "missing_fastener" and a["model_class"] == "crack"
        assert a["bbox_xyxy"] == b["bbox_xyxy"] and a["score"] == pytest.approx(b["score"])
    res = mapped(img, gsd_mm=2.0)
    assert res.masks.shape == (1, 96, 96) and res.masks[0].any()
    # 4 mm/px is the coarsest it runs on; 5 mm/px frames are skipped; unknown GSD runs
    assert len(mapped(img, gsd_mm=4.0).instances) == len(ref)
    assert mapped(img, gsd_mm=5.0).instances == []
    assert len(mapped(img).instances) == len(ref)
    assert dropped(img, gsd_mm=2.0).instances == []
    # members=: only those members run
    both = ModelSuite([tmp_path / "plain.pth", mapped_file], threshold=0.0)
    assert both.class_names == ("crack", "missing_fastener")
    only = both(img, gsd_mm=2.0, members=(1,)).instances
    assert {d["class"] for d in only} == {"missing_fastener"}
    # scale groups: each model at its own training GSD (plain says none: 0), or all at one
    assert both.scale_groups() == [((0,), 0.0), ((1,), 0.002)]
    assert both.scale_groups(0.01) == [((0, 1), 0.01)]


def test_auto_runs_the_fastening_detector_beside_the_rail_model(
    tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``models = auto`` on a railway: the model that knows most rail defects, then the installed
    companion; the companion's classes count as their mapped defect classes."""
    import models.default_model as dm
    from survey.process import rgb_models

    rail = _packaged(tiny_run, tmp_path / "rail.pth", {})
    fast = _packaged(
        tiny_run,
        tmp_path / "fast.pth",
        {"defect_classes": {"crack": "missing_fastener"}, "max_gsd_m": 0.004},
    )
    monkeypatch.setattr(dm, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(
        dm,
        "SHIPPED_INSTANCE_MODELS",
        {"maskrcnn": "none.pth", "rail": rail.name, "fastening": fast.name},
    )
    import models.weights as w

    monkeypatch.setattr(w, "SHIPPED", {})
    assert rgb_models.shipped_model_classes("fastening") == {"missing_fastener"}
    assert rgb_models.shipped_model_classes("rail") == {"crack"}
    # "crack" is not a rail defect: only the fastening model knows one; it is still run
    assert rgb_models.shipped_models_for("rail") == ["fastening"]
    assert rgb_models.shipped_models_for("pipeline") == []
    monkeypatch.setattr(
        rgb_models, "KIND_CLASSES", {"rail": frozenset({"crack", "missing_fastener"})}
    )
    assert rgb_models.shipped_models_for("rail") == ["rail", "fastening"]
    (tmp_path / "fast.pth").unlink()  # not installed: the rail model alone
    assert rgb_models.shipped_models_for("rail") == ["rail"]
    assert json.dumps(rgb_models.COMPANIONS) == '{"rail": ["fastening"]}'


def test_defect_view_maps_truth_and_detections_by_hand() -> None:
    """Two model classes become one defect, a component disappears from both sides."""
    from models.detections import Detections
    from models.fastening import DEFECTS, defect_view

    classes = ["clip", "overrailed", "underrailed", "elastic_clip_missing"]
    rec = {
        "file_name": "a.jpg", "image_id": "a", "height": 50, "width": 50,
        "annotations": [
            {"bbox": [0, 0, 10, 10], "bbox_mode": 0, "category_id": 0},
            {"bbox": [10, 10, 20, 20], "bbox_mode": 0, "category_id": 2},
            {"bbox": [20, 20, 30, 30], "bbox_mode": 0, "category_id": 3},
        ],
    }  # fmt: skip
    det = Detections.from_arrays(
        np.array([[0, 0, 10, 10], [10, 10, 20, 20], [20, 20, 30, 30]], float),
        np.array([0.9, 0.8, 0.7]),
        np.array([0, 1, 3]),
        (50, 50),
        class_names=classes,
    )
    (r,), (d,) = defect_view([rec], [det], classes)
    fd, mf = DEFECTS.index("fastening_defect"), DEFECTS.index("missing_fastener")
    assert [a["category_id"] for a in r["annotations"]] == [fd, mf]
    assert rec["annotations"][0]["category_id"] == 0  # the input is not changed
    assert d.class_names == DEFECTS and list(d.class_ids) == [fd, mf]
    assert d.scores.tolist() == pytest.approx([0.8, 0.7])
    assert d.boxes_xyxy.tolist() == [[10, 10, 20, 20], [20, 20, 30, 30]]


def test_inspect_shows_the_model_card(tmp_path: Path) -> None:
    from survey.inspect import describe

    card = {
        "model": "m.pth", "kind": "instance", "iterations": 800, "best_iter": 600,
        "checkpoint_chosen_on": "val (best bbox/AP)", "score_threshold": 0.55,
        "threshold_chosen_on": "val (best F1 of the reported defect classes)",
        "max_gsd_m": 0.004, "gsd_m": 0.002, "recipe": {"preset": "faster_rcnn_Lite0_FPN"},
        "defect_classes": {"clip": None, "mf": "missing_fastener"},
        "val": {"images": 19, "bbox": {"AP": 0.26081, "AP50": 0.5712}, "precision": 0.7,
                "recall": 0.8, "per_class": {"clip": {"box_ap": 0.54091}},
                "defects": {"per_class": {"missing_fastener": {"box_ap": 0.5, "tp": 1, "fp": 2,
                                                               "fn": 3}}}},
    }  # fmt: skip
    (tmp_path / "m.card.json").write_text(json.dumps(card))
    (tmp_path / "m.pth").write_bytes(b"\0" * 2048)
    info = describe(tmp_path / "m.pth")
    assert info["kind"] == "instance model file (with model card)" and not info["warnings"]
    assert info["checkpoint"] == "iteration 600, val (best bbox/AP)"
    assert info["val"]["box_AP"] == 0.261 and info["val"]["per_class_AP"] == {"clip": 0.541}
    assert info["val"]["defects_tp_fp_fn"] == {"missing_fastener": [1, 2, 3]}
    assert info["max_gsd_m"] == 0.004 and info["test"]["images"] is None
    (tmp_path / "m.pth").unlink()
    assert "missing" in describe(tmp_path / "m.card.json")["warnings"][0]
