"""The training engine: loss falls on a tiny dataset, checkpoints, resume, run folder, configs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.config import list_presets, load_config
from models.errors import DatasetError, ModelConfigError
from models.training.engine import load_run_config, new_run_config, train


def test_presets_are_shipped_and_from_scratch() -> None:
    presets = list_presets()
    assert {"mask_rcnn_R50_FPN", "mask_rcnn_R18_FPN_jetson"} <= set(presets)
    for name in ("mask_rcnn_R50_FPN", "mask_rcnn_R18_FPN_jetson"):
        cfg = load_config(name)
        assert cfg.MODEL.WEIGHTS == ""  # nothing to download
        assert cfg.MODEL.RESNETS.NORM in ("GN", "BN")  # FrozenBN diverges from scratch
        assert cfg.MODEL.BACKBONE.FREEZE_AT == 0
        assert cfg.SURVEY.AUG.ROT90 and cfg.SURVEY.AUG.VFLIP and cfg.SURVEY.AUG.HFLIP
    small = load_config("mask_rcnn_R18_FPN_jetson")
    assert small.MODEL.RESNETS.DEPTH == 18 and small.MODEL.ROI_MASK_HEAD.NUM_CONV == 2


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError, match="unknown preset 'nope'"):
        load_config("nope")
    with pytest.raises(ModelConfigError, match="invalid override"):
        load_config("mask_rcnn_R18_FPN_jetson", ["SOLVER.NOT_A_KEY", "1"])
    with pytest.raises(ModelConfigError, match="SURVEY.TILE.SIZE"):
        load_config("mask_rcnn_R18_FPN_jetson", ["SURVEY.TILE.SIZE", "100"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("MODEL:\n  RESNETS: [\n")
    with pytest.raises(ModelConfigError, match="not valid YAML") as e:
        load_config(bad)
    assert e.value.path == str(bad)


def test_loss_falls_checkpoints_and_resume(tmp_path: Path, d2_squares: dict, d2_overrides) -> None:
    out = tmp_path / "run"
    cfg = new_run_config(
        "mask_rcnn_R18_FPN_jetson",
        [str(d2_squares["train"])],
        overrides=d2_overrides(**{"SOLVER.CHECKPOINT_PERIOD": 10}),
        max_iter=20,
        threads=1,
        seed=3,
    )
    res = train(cfg, out, progress=False)
    assert (res.start_iter, res.end_iter) == (0, 20)
    losses = np.array(res.losses)
    assert len(losses) == 20 and np.isfinite(losses).all()
    first, last = losses[:5].mean(), losses[-5:].mean()
    assert last < 0.8 * first, (first, last)
    # run folder: config with the data's classes, checkpoints, metrics, run.json
    saved = load_run_config(out)
    assert list(saved.SURVEY.CLASSES) == ["spall"] and saved.MODEL.ROI_HEADS.NUM_CLASSES == 1
    assert (out / "model_final.pth").is_file() and (out / "last_checkpoint").is_file()
    info = json.loads((out / "run.json").read_text())
    assert (
        info["state"] == "finished"
        and info["train_images"] == 8
        and info["train_instances"]["spall"] > 8
    )
    lines = [json.loads(x) for x in (out / "metrics.json").read_text().splitlines()]
    assert [x["iteration"] for x in lines if "total_loss" in x][-1] == 19
    assert sorted(p.name for p in out.glob("model_0*.pth")) == [
        "model_0000009.pth",
        "model_0000019.pth",
    ]
    # resume to a higher max_iter continues where it stopped
    cfg2 = load_run_config(out)
    cfg2.defrost()
    cfg2.SOLVER.MAX_ITER = 22
    res2 = train(cfg2, out, resume=True, progress=False)
    assert (res2.start_iter, res2.end_iter) == (20, 22) and len(res2.losses) == 2


def _squares_cfg(d2_squares: dict, d2_overrides, max_iter: int):
    """A tiny Mask R-CNN run config on the squares fixture."""
    return new_run_config(
        "mask_rcnn_R18_FPN_jetson",
        [str(d2_squares["train"])],
        overrides=d2_overrides(),
        max_iter=max_iter,
        threads=1,
    )


def _resumed_cfg(out: Path, max_iter: int):
    """A run folder's own config with another MAX_ITER (to resume it with)."""
    cfg = load_run_config(out)
    cfg.defrost()
    cfg.SOLVER.MAX_ITER = max_iter
    return cfg


def test_time_limit_stops_with_a_checkpoint_and_resumes(
    tmp_path: Path, d2_squares: dict, d2_overrides
) -> None:
    out = tmp_path / "run"
    cfg = _squares_cfg(d2_squares, d2_overrides, 50)
    res = train(cfg, out, progress=False, stop_after_s=0.0)  # stops after the first iteration
    assert (res.start_iter, res.end_iter) == (0, 1) and (out / "model_0000000.pth").is_file()
    assert json.loads((out / "run.json").read_text())["state"] == "stopped"
    res2 = train(_resumed_cfg(out, 2), out, resume=True, progress=False)
    assert (res2.start_iter, res2.end_iter) == (1, 2)


def test_stage_schedule_stops_at_an_iteration_and_records_its_stages(
    tmp_path: Path, d2_squares: dict, d2_overrides
) -> None:
    """A schedule in stages: 3 iterations of a 6-long schedule, then 2 more of a 5-long one."""
    out = tmp_path / "run"
    res = train(_squares_cfg(d2_squares, d2_overrides, 6), out, progress=False, stop_at_iter=3)
    assert (res.start_iter, res.end_iter) == (0, 3) and (out / "model_0000002.pth").is_file()
    info = json.loads((out / "run.json").read_text())
    assert info["state"] == "stopped"
    assert info["stages"] == [{"start_iter": 0, "end_iter": 3, "max_iter": 6}]
    res2 = train(_resumed_cfg(out, 5), out, resume=True, progress=False)
    assert (res2.start_iter, res2.end_iter) == (3, 5)
    info = json.loads((out / "run.json").read_text())
    assert info["state"] == "finished" and info["stages"] == [
        {"start_iter": 0, "end_iter": 3, "max_iter": 6},
        {"start_iter": 3, "end_iter": 5, "max_iter": 5},
    ]


def test_box_only_data_trains_without_masks_and_mixed_is_an_error(
    tmp_path: Path, d2_squares: dict, d2_overrides
) -> None:
    coco = json.loads(d2_squares["train"].read_text())
    for a in coco["annotations"]:
        del a["segmentation"]
    boxes = d2_squares["root"] / "boxes.json"
    boxes.write_text(json.dumps(coco))
    cfg = new_run_config(
        "mask_rcnn_R18_FPN_jetson", [str(boxes)], overrides=d2_overrides(), max_iter=2, threads=1
    )
    train(cfg, tmp_path / "boxes", progress=False)
    assert load_run_config(tmp_path / "boxes").MODEL.MASK_ON is False
    cfg = new_run_config(
        "mask_rcnn_R18_FPN_jetson",
        [str(boxes), str(d2_squares["train"])],
        overrides=d2_overrides(),
        max_iter=2,
    )
    with pytest.raises(DatasetError, match="boxes only"):
        train(cfg, tmp_path / "mixed", progress=False)


def test_best_checkpoint_never_becomes_the_resume_point(tmp_path: Path) -> None:
    """model_best.pth holds weights only: resuming from it would restart at iteration 0."""
    import torch
    from detectron2.checkpoint import DetectionCheckpointer

    from models.training.hooks import BestCheckpointer

    model = torch.nn.Linear(2, 1)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    best = BestCheckpointer(model, fresh, "f1")
    best.update(10, {"f1": 0.5})  # best before any periodic checkpoint: nothing to resume from
    assert (fresh / "model_best.pth").is_file() and not (fresh / "last_checkpoint").exists()

    run = tmp_path / "run"
    run.mkdir()
    DetectionCheckpointer(model, str(run)).save("model_0000009", iteration=9)
    best = BestCheckpointer(model, run, "f1")
    best.update(10, {"f1": 0.5})
    best.update(20, {"f1": 0.4})  # worse: not saved
    assert (run / "last_checkpoint").read_text() == "model_0000009.pth"
    assert torch.load(run / "model_best.pth", weights_only=True)["iteration"] == 10
    assert json.loads((run / "eval" / "best.json").read_text())["value"] == 0.5
