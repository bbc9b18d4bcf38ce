"""Export to TorchScript and ONNX: parity with PyTorch, and the torch-free ONNX runtime."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.errors import ExportError, RuntimeModelError
from models.runtime.bundle import read_bundle

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One tiny run (1 iteration) exported once for the whole module."""
    import importlib.util

    from models.export.exporter import ParityTolerance, export_model
    from models.training.engine import new_run_config, train

    base = tmp_path_factory.mktemp("export")
    spec = importlib.util.spec_from_file_location("d2conf", Path(__file__).with_name("conftest.py"))
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    coco, _ = mod.make_squares_coco(base / "data", 3, size=128, seed=5)
    run = base / "run"
    cfg = new_run_config(
        "mask_rcnn_R18_FPN_jetson",
        [str(coco)],
        overrides=mod.tiny_overrides(),
        max_iter=1,
        threads=1,
    )
    train(cfg, run, progress=False)
    out = base / "bundle"
    meta = export_model(
        run, out, size=128, parity_tiles=2, tolerance=ParityTolerance(min_score=0.05)
    )
    return {"run": run, "out": out, "meta": meta, "coco": coco}


def test_exports_agree_with_pytorch(exported: dict) -> None:
    meta, out = exported["meta"], exported["out"]
    assert set(meta["files"]) == {"onnx", "torchscript", "weights_fp16"}
    for fmt in ("onnx", "torchscript"):
        p = meta["parity"][fmt]
        assert p["ok"] and p["detections_torch"] > 0 and p["unmatched"] == 0
        assert p["max_box_px"] < 0.01 and p["max_score"] < 1e-3 and p["min_mask_iou"] > 0.98
    assert meta["opset"] == 17 and meta["input"]["shape"] == [3, 128, 128]
    b = read_bundle(out)
    assert b.class_names == ("spall",) and b.input_hw == (128, 128)
    import onnx

    model = onnx.load(str(out / "model.onnx"))
    assert [o.name for o in model.graph.output] == meta["outputs"]
    assert max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) == 17


def test_fp16_bundle_weights_load_and_predict_like_the_run(exported: dict) -> None:
    from models.export.exporter import compare_detections
    from models.images import read_rgb
    from models.predictor import Predictor

    img = read_rgb(Path(exported["coco"]).parent / "images/train_000.png")
    a = Predictor.from_run(exported["run"], score_threshold=0.05)(img)
    b = Predictor.from_run(exported["out"] / "model_fp16.pth", score_threshold=0.05)(img)
    d = compare_detections(a, b, 0.05)
    assert d["n_a"] > 0 and d["unmatched"] <= 0.1 * (d["n_a"] + d["n_b"]) and d["max_box_px"] < 1.0


def test_onnx_runtime_without_torch_matches_tiled_pytorch(exported: dict, tmp_path: Path) -> None:
    """The runtime runs in a process where torch, torchvision and detectron2 cannot be imported."""
    from models.detections import Detections
    from models.export.exporter import compare_detections
    from models.predictor import Predictor

    rng = np.random.default_rng(1)
    img = rng.integers(0, 50, (200, 300, 3), dtype=np.uint8)
    img[40:70, 30:60] = 230
    img[120:150, 200:260] = 240
    np.save(tmp_path / "frame.npy", img)
    code = f"""
import sys, json
for m in ("torch", "torchvision", "detectron2"):
    sys.modules[m] = None  # any import of them now fails
import numpy as np
from models.runtime.onnx_detector import OnnxDetector
det = OnnxDetector({str(exported["out"])!r}, score_threshold=0.05)
d = det(np.load({str(tmp_path / "frame.npy")!r}))
json.dump({{"dets": d.to_dict(), "providers": det.providers}}, open({str(tmp_path / "out.json")!r}, "w"))
"""
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((tmp_path / "out.json").read_text())
    onnx_dets = Detections.from_dict(res["dets"])
    assert "CPUExecutionProvider" in res["providers"]
    assert onnx_dets.meta["tiles"] == 6  # 300x200 frame, 128 px tiles, 32 px overlap
    pred = Predictor.from_run(exported["run"], score_threshold=0.05)
    torch_dets = pred(img, tiled=True)
    d = compare_detections(torch_dets, onnx_dets, 0.05)
    assert d["n_a"] == d["n_b"] and d["unmatched"] == 0 and d["max_box_px"] < 0.01


def test_inspect_describes_bundle_and_run(exported: dict) -> None:
    from models.describe import describe_model_path

    b = describe_model_path(exported["out"])
    assert b["kind"] == "exported model bundle" and b["formats"] == [
        "onnx",
        "torchscript",
        "weights_fp16",
    ]
    assert b["classes"] == ["spall"] and not b["warnings"]
    r = describe_model_path(exported["run"])
    assert (
        r["kind"] == "model training run"
        and r["state"] == "finished"
        and r["iterations"] == "1 of 1"
    )
    assert describe_model_path(Path(exported["coco"])) is None


def test_bundle_errors(tmp_path: Path, exported: dict) -> None:
    with pytest.raises(RuntimeModelError, match="no model.json"):
        read_bundle(tmp_path)
    meta = json.loads((exported["out"] / "model.json").read_text())
    meta["format"] = "something-else"
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(RuntimeModelError, match="format") as e:
        read_bundle(tmp_path)
    assert e.value.where == "format"
    (tmp_path / "model.json").write_text("{")
    with pytest.raises(RuntimeModelError, match="not valid JSON"):
        read_bundle(tmp_path)


def test_export_rejects_bad_requests(exported: dict, tmp_path: Path) -> None:
    from models.export.exporter import export_model

    with pytest.raises(ExportError, match="unknown export formats"):
        export_model(exported["run"], tmp_path, formats=["tflite"])
    with pytest.raises(ExportError, match="multiple of 32"):
        export_model(exported["run"], tmp_path, size=100, formats=["onnx"])


def test_shipped_default_model_loads_with_its_recipe() -> None:
    import torch

    from models.default_model import shipped_instance_model
    from models.predictor import Predictor

    path = shipped_instance_model("maskrcnn")
    assert path.stat().st_size < 50 * 2**20  # fp16, shipped in the package
    blob = torch.load(str(path), map_location="cpu", weights_only=True)
    meta = json.loads(blob["meta"])
    assert meta["recipe"]["preset"] == "mask_rcnn_R18_FPN_jetson" and "threshold_tuning" in meta
    p = Predictor.from_run("maskrcnn")
    assert p.class_names[0] == "crack" and "vegetation" in p.class_names
    assert p.score_threshold == pytest.approx(meta["threshold_tuning"]["threshold"])
    d = p(np.full((256, 256, 3), 90, np.uint8))  # a featureless frame: nothing confident
    assert len(d) == 0


def test_groupnorm_exports_for_an_empty_batch(tmp_path: Path) -> None:
    """torch exports GroupNorm as a reshape to (N, G, -1), which onnxruntime cannot infer when
    N = 0 (a tile with no detection reaching the GroupNorm mask head: the shipped rail model's
    export failed so). The exporter's replacement equals torch's GroupNorm and runs on N = 0."""
    import onnxruntime as ort
    import torch

    from models.export.exporter import _export_friendly

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.GroupNorm(4, 16))
    with torch.no_grad():
        net[1].weight.uniform_(0.5, 1.5)
        net[1].bias.uniform_(-0.5, 0.5)
    net.eval()
    fixed = _export_friendly(net)
    x = torch.randn(3, 8, 14, 14)
    with torch.no_grad():
        assert torch.allclose(fixed(x), net(x), atol=1e-5)  # torch's own GroupNorm: the reference

    def run(model: torch.nn.Module, name: str, n: int) -> np.ndarray:
        path = tmp_path / f"{name}.onnx"
        with torch.no_grad():
            torch.onnx.export(model, (x,), str(path), input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=17,
                              dynamo=False)  # fmt: skip
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return sess.run(["y"], {"x": np.zeros((n, 8, 14, 14), np.float32)})[0]

    assert run(fixed, "fixed", 0).shape == (0, 16, 14, 14)
    assert np.allclose(
        run(fixed, "fixed2", 2), net(torch.zeros(2, 8, 14, 14)).detach().numpy(), atol=1e-5
    )
    with pytest.raises(Exception, match="Reshape"):  # what the plain export does on N = 0
        run(net, "plain", 0)
