"""The detectron2 semantic model: preset, head and loss, engine training with stop/resume, tiled
inference, model files and export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from models.errors import ModelConfigError, ModelError
from models.semseg.config import build_semseg_model, crack_semseg_cfg
from models.semseg.head import CrackSemSegFPNHead, soft_dice_loss
from models.semseg.predict import SemSegPredictor, save_model_file
from models.semseg.synthetic import write_crack_dataset

TINY = [
    "SOLVER.IMS_PER_BATCH", "2",
    "SOLVER.WARMUP_ITERS", "1",
    "SOLVER.CHECKPOINT_PERIOD", "2",
    "SURVEY.THREADS", "1",
    "SURVEY.AUG.CROP_SIZE", "64",
    "SURVEY.TILE.SIZE", "64",
    "SURVEY.TILE.OVERLAP", "16",
    "MODEL.FPN.OUT_CHANNELS", "32",
    "MODEL.SEM_SEG_HEAD.CONVS_DIM", "32",
]  # fmt: skip


def tiny_cfg(classes: tuple[str, ...] = ("crack",)) -> Any:
    """The crack preset, shrunk so that a CPU iteration takes a fraction of a second."""
    return crack_semseg_cfg(classes=classes, overrides=TINY)


def test_preset_builds_a_genuine_semantic_segmentor() -> None:
    from detectron2.modeling.backbone import FPN
    from detectron2.modeling.meta_arch import SemanticSegmentor

    from models.config import list_presets

    assert "crack_semseg_R18_FPN" in list_presets()
    cfg = crack_semseg_cfg()
    assert cfg.SURVEY.KIND == "semantic" and cfg.SURVEY.MAPPER == "crack_semantic"
    model = build_semseg_model(cfg)
    assert isinstance(model, SemanticSegmentor) and isinstance(model.backbone, FPN)
    assert isinstance(model.sem_seg_head, CrackSemSegFPNHead)
    norms = {type(m).__name__ for m in model.modules()}
    assert "GroupNorm" in norms and "FrozenBatchNorm2d" not in norms and "BatchNorm2d" not in norms
    assert model.sem_seg_head.class_weights.tolist() == [1.0, 10.0]
    n = sum(p.numel() for p in model.parameters())
    assert 10e6 < n < 15e6  # R18-FPN-128: ~13 M parameters, 26 MB in fp16


def test_loss_terms() -> None:
    torch.manual_seed(0)
    model = build_semseg_model(tiny_cfg()).train()
    img = torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)
    target = torch.zeros(64, 64, dtype=torch.int64)
    target[30:33, :] = 1
    target[0, :] = 255  # ignored pixels
    losses = model([{"image": img, "sem_seg": target}])
    assert set(losses) == {"loss_sem_seg", "loss_dice"}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    t = target.unsqueeze(0)
    perfect = torch.stack([(t == 0).float(), (t == 1).float()], 1)
    valid = t != 255
    assert float(soft_dice_loss(perfect, t, valid, eps=0.0)) == pytest.approx(0.0)
    assert float(soft_dice_loss(1 - perfect, t, valid)) > 0.99
    bad = tiny_cfg()
    bad.MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS = [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="CLASS_WEIGHTS has 3 values"):
        build_semseg_model(bad)
    with pytest.raises(ModelConfigError, match="class_weights needs 2 values"):
        crack_semseg_cfg(class_weights=[1.0])
    # without CLASS_WEIGHTS: 1 for background, 10 per defect class
    three = tiny_cfg(("crack", "joint"))
    three.MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS = []
    assert build_semseg_model(three).sem_seg_head.class_weights.tolist() == [1.0, 10.0, 10.0]


def test_engine_training_stops_resumes_and_exports(tmp_path: Path) -> None:
    from models.semseg.export import export_model
    from models.semseg.train import train_crack_model

    root = write_crack_dataset(tmp_path / "data", 8, seed=1, size=80, n_val=2)
    run = tmp_path / "run"
    kw: dict[str, Any] = {"overrides": [*TINY, "TEST.EVAL_PERIOD", "3"], "max_iter": 4}
    first = train_crack_model(
        run, train=[f"{root}:train"], val=[f"{root}:val"], stop_after_s=0.0, progress=False, **kw
    )
    assert first["state"] == "stopped"
    assert (run / "model_0000000.pth").is_file()
    assert json.loads((run / "run.json").read_text())["state"] == "stopped"
    second = train_crack_model(run, progress=False)  # resumes with the run's own config
    assert second["state"] == "finished" and second["start_iter"] == 1 and second["end_iter"] == 4
    assert 0.0 <= second["val"]["crack_f1/mean_at_pooled"] <= 1.0
    assert (run / "model_best.pth").is_file() and (run / "model_final.pth").is_file()
    # the resume tag never names the weights-only best model (it has no optimizer or iteration)
    assert (run / "last_checkpoint").read_text().strip() != "model_best.pth"
    # the run folder predicts directly, and exports to a small fp16 file with a tuned threshold
    frame = np.random.default_rng(0).integers(0, 255, (100, 90, 3), dtype=np.uint8)
    direct = SemSegPredictor.from_file(run)
    meta = export_model(run, tmp_path / "m.pth")
    assert meta["bytes"] < (run / "model_best.pth").stat().st_size
    assert 0.05 <= meta["thresholds"][0] <= 0.99 + 1e-6 and "train" in meta["recipe"]
    assert (tmp_path / "m.recipe.json").is_file()
    from survey.inspect import describe

    info = describe(tmp_path / "m.pth")
    assert info["kind"] == "semantic model file" and info["classes"] == ["crack"]
    assert info["threshold"] == meta["thresholds"][0] and info["size_mb"] == round(
        meta["bytes"] / 2**20, 1
    )
    assert set(info["val_f1"]) == {"all"} and any("below 0.85" in w for w in info["warnings"])
    assert info["tta"] == "none" and info["stages"] == ["0-1 of 4", "1-4 of 4"]
    shipped = SemSegPredictor.from_file(tmp_path / "m.pth")
    assert shipped.thresholds == tuple(meta["thresholds"])
    np.testing.assert_allclose(shipped.probabilities(frame), direct.probabilities(frame), atol=2e-2)
    assert shipped.tta == "none" and meta["recipe"]["stages"] == [
        {"start_iter": 0, "end_iter": 1, "max_iter": 4},
        {"start_iter": 1, "end_iter": 4, "max_iter": 4},
    ]
    # tuned with test-time flips: the file says so and its predictor uses them
    meta_tta = export_model(run, tmp_path / "t.pth", tta="flip")
    assert meta_tta["tta"] == "flip" and SemSegPredictor.from_file(tmp_path / "t.pth").tta == "flip"


def test_replaying_a_recipe_runs_its_stages(tmp_path: Path) -> None:
    """scripts/train_crack_model.py --replay: a 4-iteration cosine stopped at 2, then a 3-long one
    (the shape of the shipped model's schedule); a second replay finds nothing left to do."""
    import argparse
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "train_crack_model", Path(__file__).parents[2] / "scripts" / "train_crack_model.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    root = write_crack_dataset(tmp_path / "data", 6, seed=2, size=80, n_val=2)
    stages = [
        {"start_iter": 0, "end_iter": 2, "max_iter": 4},
        {"start_iter": 2, "end_iter": 3, "max_iter": 3},
    ]
    recipe = tmp_path / "r.recipe.json"
    recipe.write_text(json.dumps({"recipe": {"seed": 5, "stages": stages}}))
    run = tmp_path / "run"
    args = argparse.Namespace(
        replay=recipe, out=run, seed=None, threads=1, device=None, no_progress=True
    )
    assert script.replay(args, [f"{root}:train"], [f"{root}:val"], TINY) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["stages"] == stages and info["state"] == "finished" and info["seed"] == 5
    assert script.iterations_done(run) == 3
    assert script.replay(args, [f"{root}:train"], [f"{root}:val"], TINY) == 0
    assert json.loads((run / "run.json").read_text())["stages"] == stages
    (tmp_path / "bad.json").write_text("{}")
    args.replay = tmp_path / "bad.json"
    with pytest.raises(SystemExit, match="not a recipe with stages"):
        script.replay(args, [f"{root}:train"], [f"{root}:val"], TINY)


class _PixelwiseModel(torch.nn.Module):
    """A stand-in 'network' whose logits depend on each pixel only: tiling must not change them."""

    def forward(self, inputs: list[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
        out = []
        for d in inputs:
            g = d["image"].float().mean(0) / 255.0
            out.append({"sem_seg": torch.stack([torch.zeros_like(g), 8 * (g - 0.5)])})
        return out


def test_tiled_probabilities_equal_whole_frame_ones() -> None:
    pred = SemSegPredictor(tiny_cfg(), _PixelwiseModel())
    frame = np.random.default_rng(0).integers(0, 255, (150, 230, 3), dtype=np.uint8)
    tiled = pred.probabilities(frame)
    pred.tile_px = 1024
    whole = pred.probabilities(frame)
    assert tiled.shape == (1, 150, 230)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    with pytest.raises(ModelError, match="uint8 BGR"):
        pred.probabilities(frame[..., 0])
    # a region of interest: zero outside, the same inside
    pred.tile_px = 64
    roi = np.array([[10, 10], [120, 10], [120, 100], [10, 100]])
    inside = pred.probabilities(frame, roi=roi)
    assert (inside[:, 102:, :] == 0).all() and (inside[:, :, 122:] == 0).all()
    np.testing.assert_allclose(inside[:, 12:98, 12:118], whole[:, 12:98, 12:118], atol=1e-5)


class _LeftTopModel(torch.nn.Module):
    """A 'network' that sees orientation: its crack logit is ``2 * (x / w) + (y / h)``."""

    def forward(self, inputs: list[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
        out = []
        for d in inputs:
            h, w = d["image"].shape[1:]
            y, x = torch.meshgrid(torch.arange(h) / h, torch.arange(w) / w, indexing="ij")
            out.append({"sem_seg": torch.stack([torch.zeros(h, w), 2 * x + y])})
        return out


@pytest.mark.parametrize("tta", ["flip", "d4"])
def test_test_time_augmentation_undoes_its_transforms(tta: str) -> None:
    frame = np.random.default_rng(2).integers(0, 255, (150, 230, 3), dtype=np.uint8)
    # a pixel-wise model is unchanged by any rotation/mirroring: only a misaligned inverse
    # transform could change its output
    plain = SemSegPredictor(tiny_cfg(), _PixelwiseModel()).probabilities(frame)
    aug = SemSegPredictor(tiny_cfg(), _PixelwiseModel(), tta=tta)
    np.testing.assert_allclose(aug.probabilities(frame), plain, atol=1e-6)
    # an orientation-dependent one: hand-computed mean over the transforms of one 40x60 tile
    pred = SemSegPredictor(tiny_cfg(), _LeftTopModel(), tta=tta)
    h, w = 40, 60
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    xs, ys = x / w, y / h  # the model's coordinates of the untransformed tile
    xm, ym = (w - 1 - x) / w, (h - 1 - y) / h  # ... of the mirrored / turned ones
    if tta == "flip":  # identity, left-right mirror, half turn, up-down mirror
        logits = [2 * xs + ys, 2 * xm + ys, 2 * xm + ym, 2 * xs + ym]
    else:
        logits = None  # d4 also turns the tile a quarter: (h, w) swap; checked by symmetry
    got = pred.probabilities(frame[:h, :w])[0]
    if logits is not None:
        want = np.mean([1 / (1 + np.exp(-z)) for z in logits], axis=0)
        np.testing.assert_allclose(got, want, atol=1e-5)
    # averaging over a symmetric set of transforms is itself symmetric under them
    np.testing.assert_allclose(got, got[::-1, ::-1], atol=1e-5)
    np.testing.assert_allclose(got, got[:, ::-1], atol=1e-5)
    with pytest.raises(ModelError, match="test-time augmentation"):
        SemSegPredictor(tiny_cfg(), _PixelwiseModel(), tta="rot45")


def test_model_file_round_trip_in_fp16(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = tiny_cfg()
    model = build_semseg_model(cfg).eval()
    ref = SemSegPredictor(cfg, model)
    path = save_model_file(tmp_path / "m.pth", cfg, model.state_dict(), {"thresholds": [0.3]})
    loaded = SemSegPredictor.from_file(path)
    assert loaded.thresholds == (0.3,) and loaded.class_names == ("crack",)
    assert next(iter(torch.load(path, weights_only=True)["model"].values())).dtype == torch.float16
    frame = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    np.testing.assert_allclose(loaded.probabilities(frame), ref.probabilities(frame), atol=2e-2)


def test_model_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        SemSegPredictor.from_file(tmp_path / "none.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file at all")
    with pytest.raises(ModelError, match="junk.pth: not a readable torch model file"):
        SemSegPredictor.from_file(junk)
    torch.save({"weights": {}}, tmp_path / "other.pth")
    with pytest.raises(ModelError, match="no embedded config"):
        SemSegPredictor.from_file(tmp_path / "other.pth")
    wrong = build_semseg_model(crack_semseg_cfg(channels=64)).state_dict()
    save_model_file(tmp_path / "wrong.pth", tiny_cfg(), wrong, {})
    with pytest.raises(ModelError, match="do not fit the config"):
        SemSegPredictor.from_file(tmp_path / "wrong.pth")
