"""The torch-free semantic runtime against a formula: a tiny hand-built ONNX graph.

The graph (built with ``onnx.helper``, no torch) computes ``probs = sigmoid((mean_c(x) - 128) /
16)`` per pixel. Being pointwise, its exact answer on any frame is known in numpy, whatever the
tiling, padding, blending and test-time views of :class:`OnnxSegmenter` do; a wrong pad, crop,
turn-back or blend weight shows as a difference. This test runs in the onboard-only install
(Python 3.10 / 3.12, no torch: ``scripts/test_onboard_python.sh``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def _bundle(root: Path, *, tta: str = "none", tile: int = 64, overlap: int = 16) -> Path:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, "h", "w"])
    y = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", 1, "h", "w"])
    c = [
        helper.make_tensor(n, TensorProto.FLOAT, [], [v])
        for n, v in (("c128", 128.0), ("c16", 16.0))
    ]
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["m"], axes=[1], keepdims=1),
        helper.make_node("Sub", ["m", "c128"], ["d"]),
        helper.make_node("Div", ["d", "c16"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["probs"]),
    ]
    g = helper.make_graph(nodes, "pointwise", [x], [y], initializer=c)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    root.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(root / "model.onnx"))
    meta = {
        "format": "railpipe-survey/detectron2-export", "version": 1, "kind": "semantic",
        "input": {"name": "image", "shape": [3, tile, tile], "channels": "BGR", "dtype": "float32",
                  "pad_value": [0.0, 0.0, 0.0], "size_divisibility": 32, "dynamic_hw": True},
        "outputs": ["probs"], "class_names": ["crack"], "thresholds": [0.5],
        "score_threshold": 0.5, "tta": tta, "tile": {"size": tile, "overlap": overlap, "batch": 2},
        "files": {"onnx": "model.onnx"},
    }  # fmt: skip
    (root / "model.json").write_text(json.dumps(meta))
    return root


def _truth(img: np.ndarray) -> np.ndarray:
    z = (img.astype(np.float64).mean(axis=2) - 128.0) / 16.0
    return (1.0 / (1.0 + np.exp(-z)))[None].astype(np.float32)


@pytest.mark.parametrize("tta", ["none", "flip", "d4"])
def test_tiles_padding_views_and_blending_reproduce_the_formula(tmp_path: Path, tta: str) -> None:
    from models.runtime.onnx_segmenter import OnnxSegmenter

    rng = np.random.default_rng(3)
    seg = OnnxSegmenter(_bundle(tmp_path / tta, tta=tta), providers=["CPUExecutionProvider"])
    for h, w in ((50, 37), (64, 64), (150, 203)):  # inside one tile (padded), exact, tiled
        img = rng.integers(60, 200, (h, w, 3), dtype=np.uint8)
        p = seg.probabilities(img)
        assert p.shape == (1, h, w)
        assert np.abs(p - _truth(img)).max() < 1e-5, (tta, h, w)
    # a region of interest: the same values inside, zero outside
    img = rng.integers(60, 200, (150, 203, 3), dtype=np.uint8)
    roi = np.array([[0, 0], [90, 0], [90, 149], [0, 149]], float)
    p = seg.probabilities(img, roi=roi)
    assert np.abs(p[0, :, :80] - _truth(img)[0, :, :80]).max() < 1e-5
    assert p[0, :, 100:].max() == 0.0


def test_each_bright_patch_is_one_crack_detection(tmp_path: Path) -> None:
    from models.runtime.onnx_segmenter import OnnxSegmenter

    img = np.full((120, 160, 3), 40, np.uint8)
    img[10:20, 10:60] = 230  # two "cracks" well above threshold, far apart
    img[80:110, 120:126] = 230
    d = OnnxSegmenter(_bundle(tmp_path), providers=["CPUExecutionProvider"]).detections(img)
    boxes = sorted(map(tuple, d.boxes_xyxy.astype(int).tolist()))
    assert boxes == [(10, 10, 60, 20), (120, 80, 126, 110)] and d.class_names == ("crack",)
    assert np.all(d.scores > 0.99)


def test_the_runtime_imports_no_torch(tmp_path: Path) -> None:
    import subprocess

    b = _bundle(tmp_path)
    code = f"""
import sys
for m in ("torch", "torchvision", "detectron2"):
    sys.modules[m] = None
import numpy as np
from models.runtime.onnx_segmenter import OnnxSegmenter
print(OnnxSegmenter({str(b)!r}).probabilities(np.zeros((40, 40, 3), np.uint8)).shape)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert r.returncode == 0 and "(1, 40, 40)" in r.stdout, r.stderr[-1500:]
