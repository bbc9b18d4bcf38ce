"""The detectron2 semantic model: head and loss, training with resume, tiled inference, model files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from models.errors import ModelError
from models.semseg.config import build_semseg_model, crack_semseg_cfg, load_semseg_cfg
from models.semseg.data import load_list_file
from models.semseg.head import CrackSemSegFPNHead, soft_dice_loss
from models.semseg.predict import SemSegPredictor, save_model_file, tile_boxes
from models.semseg.synthetic import write_crack_dataset
from models.semseg.train import train_semseg


def tiny_cfg(max_iter: int = 4) -> Any:
    """The crack preset, shrunk so that a CPU iteration takes a fraction of a second."""
    cfg = crack_semseg_cfg(channels=32, max_iter=max_iter)
    cfg.SOLVER.IMS_PER_BATCH = 2
    cfg.SOLVER.WARMUP_ITERS = 1
    cfg.SOLVER.CHECKPOINT_PERIOD = 2
    cfg.SOLVER.NUM_THREADS = 1
    cfg.INPUT.CROP_PX = 64
    cfg.TEST.EVAL_PERIOD = 0
    cfg.TEST.TILE_PX = 64
    cfg.TEST.TILE_OVERLAP_PX = 16
    return cfg


def test_preset_builds_a_genuine_semantic_segmentor() -> None:
    from detectron2.modeling.backbone import FPN
    from detectron2.modeling.meta_arch import SemanticSegmentor

    cfg = crack_semseg_cfg()
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
    cfg = tiny_cfg()
    model = build_semseg_model(cfg).train()
    img = torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)
    target = torch.zeros(64, 64, dtype=torch.int64)
    target[30:33, :] = 1
    target[0, :] = 255  # ignored pixels
    losses = model([{"image": img, "sem_seg": target}])
    assert set(losses) == {"loss_sem_seg", "loss_dice"}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    # dice: perfect prediction -> 0, opposite -> ~1; ignored pixels do not count
    t = target.unsqueeze(0)
    perfect = torch.stack([(t == 0).float(), (t == 1).float()], 1)
    valid = t != 255
    assert float(soft_dice_loss(perfect, t, valid, eps=0.0)) == pytest.approx(0.0)
    assert float(soft_dice_loss(1 - perfect, t, valid)) > 0.99
    bad = crack_semseg_cfg(class_weights=[1.0, 2.0])
    bad.MODEL.SEM_SEG_HEAD.CLASS_WEIGHTS = [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="CLASS_WEIGHTS has 3 values"):
        build_semseg_model(bad)
    with pytest.raises(ModelError, match="class_weights"):
        crack_semseg_cfg(class_weights=[1.0])


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_training_resumes_exactly_and_writes_a_run(tmp_path: Path) -> None:
    lst = write_crack_dataset(tmp_path / "data", 6, seed=1, size=80)
    samples = load_list_file(lst)
    train, val = {"synth": samples[:4]}, {"synth": samples[4:]}
    cfg = tiny_cfg(max_iter=4)
    straight = tmp_path / "straight"
    res = train_semseg(cfg, train, val, straight, progress=False)
    assert {"config.yaml", "recipe.json", "metrics.jsonl", "last_checkpoint", "model_best.pth"} <= {
        p.name for p in straight.iterdir()
    }
    assert 0.0 <= res["val"]["synth"]["best_f1"] <= 1.0
    a = SemSegPredictor.from_file(straight / "model_0000003.pth")
    # the same run stopped after its first iteration, then resumed
    split = tmp_path / "split"
    first = train_semseg(cfg, train, val, split, stop_after_s=0.0, progress=False)
    assert first["stopped_at"] == 0
    assert (split / "model_0000000.pth").is_file()
    train_semseg(cfg, train, val, split, progress=False)
    b = SemSegPredictor.from_file(split / "model_0000003.pth")
    wa, wb = _weights(a.model), _weights(b.model)
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-4, atol=1e-5, msg=k)
    assert load_semseg_cfg(split / "config.yaml").SOLVER.MAX_ITER == 4


def test_tile_boxes_cover_every_pixel() -> None:
    for h, w in [(1080, 1920), (513, 512), (600, 1000), (64, 64), (100, 40)]:
        cover = np.zeros((h, w), np.int32)
        for y0, x0, y1, x1 in tile_boxes(h, w, 512, 64):
            assert 0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w
            assert y1 - y0 == min(512, h) and x1 - x0 == min(512, w)
            cover[y0:y1, x0:x1] += 1
        assert cover.min() >= 1
    with pytest.raises(ValueError):
        tile_boxes(100, 100, 64, 64)


class _PixelwiseModel(torch.nn.Module):
    """A stand-in 'network' whose logits depend on each pixel only: tiling must not change them."""

    def forward(self, inputs: list[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
        out = []
        for d in inputs:
            g = d["image"].float().mean(0) / 255.0
            out.append({"sem_seg": torch.stack([torch.zeros_like(g), 8 * (g - 0.5)])})
        return out


def test_tiled_probabilities_equal_whole_frame_ones() -> None:
    cfg = tiny_cfg()
    pred = SemSegPredictor(cfg, _PixelwiseModel())
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (150, 230, 3), dtype=np.uint8)
    tiled = pred.probabilities(frame)
    pred.tile_px = 1024
    whole = pred.probabilities(frame)
    assert tiled.shape == (1, 150, 230)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    with pytest.raises(ModelError, match="uint8 BGR"):
        pred.probabilities(frame[..., 0])


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
    with pytest.raises(ModelError, match="no 'model' state dict"):
        SemSegPredictor.from_file(tmp_path / "other.pth")
    cfg = tiny_cfg()
    wrong = build_semseg_model(crack_semseg_cfg(channels=64)).state_dict()
    save_model_file(tmp_path / "wrong.pth", cfg, wrong, {})
    with pytest.raises(ModelError, match="do not fit the config"):
        SemSegPredictor.from_file(tmp_path / "wrong.pth")
