"""ONNX export of the semantic (crack) model and the torch-free OnnxSegmenter.

The reference is the PyTorch :class:`~models.semseg.predict.SemSegPredictor` on the same frames
(the shipped crack model, real UAV75 images): the ONNX probabilities must equal its to 1e-3 and
the thresholded crack masks must agree pixel for pixel (IoU >= 0.99), on a frame that fits one
tile and on one that is tiled and blended.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from models.errors import RuntimeModelError

ROOT = Path(__file__).resolve().parents[2]
CRACK = ROOT / "models" / "weights" / "crack_default.pth"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    from models.semseg.onnx_export import export_semantic

    out = tmp_path_factory.mktemp("crack_onnx") / "bundle"
    return out, export_semantic(CRACK, out, parity_frames=2)


def _frame(shared_data: Path) -> np.ndarray:
    img = cv2.imread(str(sorted((shared_data / "defects" / "uav75" / "val_img").glob("*"))[0]))
    assert img is not None
    return img


def test_bundle_records_model_thresholds_and_parity(bundle) -> None:  # type: ignore[no-untyped-def]
    import torch

    out, meta = bundle
    sd = torch.load(CRACK, map_location="cpu", weights_only=True)
    assert meta["kind"] == "semantic" and meta["class_names"] == ["crack"]
    # the thresholds and the test-time augmentation they were tuned with travel together
    assert meta["thresholds"] == pytest.approx(sd["meta"]["thresholds"])
    assert meta["tta"] == sd["meta"].get("tta", "none")
    p = meta["parity"]["onnx"]
    assert p["ok"] and p["max_abs_prob"] < 1e-3 and p["min_mask_iou"] >= 0.99
    assert json.loads((out / "model.json").read_text())["parity"]["onnx"]["ok"]


def test_onnx_equals_pytorch_on_real_frames(bundle, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    from models.runtime.onnx_segmenter import OnnxSegmenter
    from models.semseg.predict import SemSegPredictor

    img = _frame(shared_data)
    # one frame inside a tile, one 1.7 tiles wide (tiled, blended), one with a region of interest
    big = np.ascontiguousarray(np.hstack([img, img[:, ::-1]])[:, : int(512 * 1.7)])
    torch_pred = SemSegPredictor.from_file(CRACK)
    seg = OnnxSegmenter(bundle[0], providers=["CPUExecutionProvider"])
    assert seg.tta == torch_pred.tta and seg.thresholds == pytest.approx(torch_pred.thresholds)
    h, w = big.shape[:2]
    roi = np.array([[0, 0], [w // 3, 0], [w // 3, h], [0, h]], float)
    for frame, r in ((img[:400, :400], None), (big, None), (big, roi)):
        a, b = torch_pred.predict(frame, roi=r), seg.predict(frame, roi=r)
        assert a.probs.shape == b.probs.shape == (1, *frame.shape[:2])
        assert np.abs(a.probs - b.probs).max() < 1e-3
        inter, union = (a.union & b.union).sum(), (a.union | b.union).sum()
        assert union == 0 or inter / union >= 0.99
    assert b.probs[0, :, w // 3 + 1 :].max() == 0.0  # outside the region: nothing


def test_segmenter_runs_without_torch(bundle, shared_data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from models.semseg.predict import SemSegPredictor

    img = _frame(shared_data)[:300, :300]
    np.save(tmp_path / "f.npy", img)
    code = f"""
import sys
for m in ("torch", "torchvision", "detectron2"):
    sys.modules[m] = None
import numpy as np
from models.runtime.onnx_segmenter import OnnxSegmenter
seg = OnnxSegmenter({str(bundle[0])!r})
np.save({str(tmp_path / "p.npy")!r}, seg.probabilities(np.load({str(tmp_path / "f.npy")!r})))
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    ref = SemSegPredictor.from_file(CRACK).probabilities(img)
    assert np.abs(np.load(tmp_path / "p.npy") - ref).max() < 1e-3


def test_bad_bundles_name_the_file_and_field(bundle, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from models.runtime.onnx_detector import OnnxDetector
    from models.runtime.onnx_segmenter import OnnxSegmenter

    out, meta = bundle
    with pytest.raises(RuntimeModelError, match="OnnxSegmenter") as e:
        OnnxDetector(out)
    assert e.value.where == "kind"
    bad = tmp_path / "b"
    shutil.copytree(out, bad)
    m = dict(meta, kind="instance")
    (bad / "model.json").write_text(json.dumps(m))
    with pytest.raises(RuntimeModelError, match="OnnxDetector"):
        OnnxSegmenter(bad)
    (bad / "model.json").write_text(json.dumps(dict(meta, thresholds=[0.5, 0.5])))
    with pytest.raises(RuntimeModelError, match="2 thresholds for 1 classes") as e:
        OnnxSegmenter(bad)
    assert e.value.where == "thresholds" and "model.json" in str(e.value)
    (bad / "model.json").write_text(json.dumps(meta))
    data = (bad / "model.onnx").read_bytes()
    (bad / "model.onnx").write_bytes(data[: len(data) // 3])  # a truncated copy
    with pytest.raises(RuntimeModelError, match="cannot load") as e:
        OnnxSegmenter(bad)
    assert "model.onnx" in str(e.value)


def test_cli_exports_the_shipped_crack_model(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from models.describe import describe_model_path
    from survey.cli import cli

    r = CliRunner().invoke(
        cli, ["export-model", str(CRACK), "--out", str(tmp_path / "x"), "--parity-tiles", "1"]
    )
    assert r.exit_code == 0, r.output
    assert "parity onnx" in r.output and "semantic: crack" in r.output
    d = describe_model_path(tmp_path / "x")
    assert d["kind"] == "exported semantic model bundle" and not d["warnings"]
    r = CliRunner().invoke(
        cli, ["export-model", str(CRACK), "--out", str(tmp_path / "y"), "--size", "256"]
    )
    assert r.exit_code != 0 and "--size" in r.output


def test_onboard_runs_the_crack_bundle(bundle, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    """`survey fly --model BUNDLE` with the crack bundle: each crack of a frame is one detection,
    as the batch pipeline measures them from the PyTorch model's mask."""
    from types import SimpleNamespace

    from missions.onboard.cli import _detectors
    from models.crack import measure_cracks
    from models.semseg.predict import SemSegPredictor

    img = _frame(shared_data)
    (det,) = _detectors((str(bundle[0]),), None)
    d = det(SimpleNamespace(image=img, index=0))
    ref = SemSegPredictor.from_file(CRACK).predict(img)
    cracks = measure_cracks(ref.masks[0], prob=ref.probs[0], min_area_px=20, join_gap_px=3)
    assert len(cracks) > 0 and len(d) == len(cracks)
    assert d.class_names == ("crack",) and np.allclose(
        np.sort(d.scores), np.sort(cracks.score), atol=1e-3
    )
    assert all(m is not None for m in d.mask_rles)
