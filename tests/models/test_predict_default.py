"""The shipped crack model: `survey predict --model default` on real drone crack crops."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from models.semseg.metrics import PixelCounts, tolerant_counts
from models.semseg.predict import TTA_MODES
from models.weights import shipped_model_path
from survey.cli import cli

# the first val crops of each set (never trained on), in the order of the split lists
CC0 = ["images/DJI1280.png", "images/DJI2180.png", "images/slide1028.png", "images/slide1029.png"]
UAV75 = ["DSC00551.jpg", "DSC00560b.jpg", "DSC00566.jpg"]


def _truth(path: Path, white_only: bool) -> np.ndarray:
    lab = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    first = lab[..., 2] if lab.ndim == 3 else lab
    return first == 255 if white_only else first >= 128


def test_shipped_model_file() -> None:
    p = shipped_model_path("default")
    assert p.stat().st_size <= 50 * 2**20
    obj = torch.load(p, map_location="cpu", weights_only=True)
    assert {v.dtype for v in obj["model"].values() if v.is_floating_point()} == {torch.float16}
    meta = obj["meta"]
    assert meta["classes"] == ["crack"] and 0.05 <= meta["thresholds"][0] <= 0.99 + 1e-6
    assert set(meta["recipe"]) >= {"seed", "train", "val", "preset", "max_iter", "stages"}
    assert meta["tta"] in TTA_MODES and meta["val"]["criterion"] in ("mean", "min")
    # the recorded schedule ends at the stage the exported (best) iteration belongs to
    stages = meta["recipe"]["stages"]
    assert stages[0]["start_iter"] == 0 and stages[-1]["end_iter"] >= meta["iteration"]
    assert all(
        a["end_iter"] == b["start_iter"] for a, b in zip(stages[:-1], stages[1:], strict=True)
    )
    recipe = json.loads(p.with_name("crack_default.recipe.json").read_text())
    assert recipe["thresholds"] == meta["thresholds"]


def test_predict_default_on_shared_crops(shared_data: Path, tmp_path: Path) -> None:
    d = shared_data / "defects"
    cc0 = [d / "uav_crack_cc0" / x for x in CC0]
    uav = [d / "uav75" / "val_img" / x for x in UAV75]
    val_cc0 = (d / "uav_crack_cc0" / "val.txt").read_text()
    assert all(x in val_cc0 for x in CC0)  # val crops: the model never trained on them
    out = tmp_path / "out"
    r = CliRunner().invoke(
        cli, ["predict", *map(str, cc0 + uav), "--model", "default", "--out", str(out), "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["images"] == len(cc0) + len(uav)
    total = PixelCounts()
    for img in cc0 + uav:
        pred = cv2.imread(str(out / f"{img.stem}.png"), cv2.IMREAD_UNCHANGED)
        if img in uav:
            truth = _truth(d / "uav75" / "val_lab" / f"{img.stem}.png", white_only=True)
        else:
            truth = _truth(d / "uav_crack_cc0" / "masks" / img.name, white_only=False)
        assert pred.shape == truth.shape and set(np.unique(pred)) <= {0, 255}
        c = tolerant_counts(pred == 255, truth, 2.0)
        assert c.f1 >= 0.3, (img.name, c)  # every crop: the crack is found
        total = total + c
        doc = json.loads((out / f"{img.stem}.json").read_text())
        assert doc["instances"], img.name
        assert sum(i["area_px"] for i in doc["instances"]) <= int((pred == 255).sum())
        h, w = truth.shape
        for inst in doc["instances"]:
            poly = np.asarray(inst["polygon"])
            assert poly.min() >= 0 and poly[:, 0].max() < w and poly[:, 1].max() < h
            assert inst["length_px"] >= inst["max_width_px"] > 0 and inst["severity"] is None
    assert total.f1 >= 0.5, total


@pytest.mark.slow
def test_shipped_model_reaches_its_recorded_scores(shared_data: Path) -> None:
    """Re-evaluates the shipped model on both full val splits (73 crops) at its threshold, with
    the test-time flips it was tuned with.

    The scores recorded in the model file at export must be reproduced (within 0.01), and each
    split must keep the aim of issue #9 that the shipped model reached (F1 >= 0.85 with a 2 px
    tolerance: 0.855 on UAV75 val, 0.853 on CC0 val; docs/crack-model.md).
    """
    from models.datasets.sources import combine, load_dataset
    from models.semseg.evaluate import evaluate_semantic
    from models.semseg.predict import SemSegPredictor

    d = shared_data / "defects"
    recs = combine(
        [load_dataset(f"{d / 'uav_crack_cc0'}:val"), load_dataset(f"{d / 'uav75'}:val")], ["crack"]
    ).records
    pred = SemSegPredictor.from_file(shipped_model_path("default"))
    res = evaluate_semantic(pred, recs, operating_threshold=pred.thresholds[0])
    recorded = pred.meta["val"]["at_threshold"]
    for split, v in res["at_operating"].items():
        assert v["f1"] >= 0.85, (split, v)
        assert v["f1"] == pytest.approx(recorded[split]["f1"], abs=0.01)
