"""Export a trained instance model to TorchScript and ONNX, with a parity check.

``export_model(run, out_dir, formats=("onnx", "torchscript"))`` writes a bundle folder:

- ``model.onnx``: Detectron2's ``TracingAdapter`` around ``model.inference(...,
  do_postprocess=False)``, exported by the legacy (TorchScript-based) exporter
  (``dynamo=False``, opset 17). Input ``image``: float32 ``[3, S, S]`` in the model's channel
  order, 0-255, ``S = SURVEY.TILE.SIZE``; outputs ``boxes`` [N, 4], ``classes`` [N],
  ``masks`` [N, 1, 28, 28] (probabilities), ``scores`` [N], ``image_size`` [2];
- ``model.ts``: the same graph traced to TorchScript (needs torch + torchvision to run, not
  detectron2);
- ``model.json``: the sidecar the runtime reads (:mod:`models.runtime.bundle`), including the
  parity results;
- ``config.yaml`` and ``model_fp16.pth`` (weights only, half precision) when
  ``weights=True``: a small copy of the run for PyTorch use.

The parity check runs the PyTorch predictor and each export on the same tiles (real images
from the run's validation data when readable, else seeded noise) and compares detections
matched by box IoU: counts, box corners, scores and mask IoU must agree within tolerances
(:class:`ParityTolerance`), else :class:`~models.errors.ExportError`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.detections import Detections
from models.errors import ExportError, ImageReadError
from models.images import read_rgb
from models.runtime.bundle import BUNDLE_FORMAT
from models.runtime.postprocess import raw_to_detections

__all__ = ["ParityTolerance", "compare_detections", "export_model", "save_weights_fp16"]

log = logging.getLogger(__name__)
OPSET = 17


@dataclass(frozen=True)
class ParityTolerance:
    """How closely an export must reproduce the PyTorch detections (scores >= ``min_score``)."""

    min_score: float = 0.3
    box_px: float = 1.0
    score: float = 0.02
    mask_iou: float = 0.9
    unmatched_fraction: float = 0.05


def compare_detections(a: Detections, b: Detections, min_score: float = 0.3) -> dict[str, float]:
    """Match ``b`` to ``a`` by box IoU (same class, greedy by score); report the differences.

    Returns ``n_a``, ``n_b``, ``unmatched`` (detections of either side without a partner),
    ``max_box_px``, ``max_score``, ``min_mask_iou`` over matched pairs.
    """
    from pycocotools import mask as mask_util

    a, b = a[a.scores >= min_score], b[b.scores >= min_score]
    out = {
        "n_a": float(len(a)),
        "n_b": float(len(b)),
        "unmatched": 0.0,
        "max_box_px": 0.0,
        "max_score": 0.0,
        "min_mask_iou": 1.0,
    }
    if len(a) == 0 or len(b) == 0:
        out["unmatched"] = float(len(a) + len(b))
        return out
    xywh = lambda d: [[x0, y0, x1 - x0, y1 - y0] for x0, y0, x1, y1 in d.boxes_xyxy.tolist()]  # noqa: E731
    iou = np.asarray(mask_util.iou(xywh(a), xywh(b), [0] * len(b))).reshape(len(a), len(b))
    iou[a.class_ids[:, None] != b.class_ids[None, :]] = 0
    taken = np.zeros(len(b), bool)
    matched = 0
    for i in np.argsort(-a.scores):
        cand = np.where(taken, -1, iou[i])
        j = int(np.argmax(cand))
        if cand[j] < 0.5:
            continue
        taken[j] = True
        matched += 1
        out["max_box_px"] = max(
            out["max_box_px"], float(np.abs(a.boxes_xyxy[i] - b.boxes_xyxy[j]).max())
        )
        out["max_score"] = max(out["max_score"], float(abs(a.scores[i] - b.scores[j])))
        if a.has_masks and b.has_masks:
            ra, rb = a.coco_rle(int(i)), b.coco_rle(j)
            inter = float(mask_util.area(mask_util.merge([ra, rb], intersect=True)))
            union = float(mask_util.area(mask_util.merge([ra, rb])))
            out["min_mask_iou"] = min(out["min_mask_iou"], inter / union if union else 1.0)
    out["unmatched"] = float(len(a) + len(b) - 2 * matched)
    return out


def _check(name: str, diffs: list[dict[str, float]], tol: ParityTolerance) -> dict[str, Any]:
    n = sum(d["n_a"] + d["n_b"] for d in diffs)
    res = {
        "tiles": len(diffs),
        "detections_torch": int(sum(d["n_a"] for d in diffs)),
        "detections_export": int(sum(d["n_b"] for d in diffs)),
        "unmatched": int(sum(d["unmatched"] for d in diffs)),
        "max_box_px": max(d["max_box_px"] for d in diffs),
        "max_score": max(d["max_score"] for d in diffs),
        "min_mask_iou": min(d["min_mask_iou"] for d in diffs),
        "min_score": tol.min_score,
    }
    bad = []
    if n and res["unmatched"] > tol.unmatched_fraction * n:
        bad.append(f"{res['unmatched']} of {int(n)} detections unmatched")
    if res["max_box_px"] > tol.box_px:
        bad.append(f"boxes differ by up to {res['max_box_px']:.3f} px (> {tol.box_px})")
    if res["max_score"] > tol.score:
        bad.append(f"scores differ by up to {res['max_score']:.4f} (> {tol.score})")
    if res["min_mask_iou"] < tol.mask_iou:
        bad.append(f"a mask IoU is {res['min_mask_iou']:.3f} (< {tol.mask_iou})")
    res["ok"] = not bad
    if bad:
        raise ExportError(f"{name} export disagrees with PyTorch: " + "; ".join(bad))
    return res


def _sample_tiles(cfg: Any, size: int, n: int, seed: int = 0) -> list[np.ndarray]:
    """Up to ``n`` tiles of ``size`` from the run's validation (else training) images; noise fills up."""
    from models.datasets.sources import load_dataset

    tiles: list[np.ndarray] = []
    specs = list(cfg.SURVEY.DATASETS.VAL) or list(cfg.SURVEY.DATASETS.TRAIN)
    for spec in specs:
        try:
            ds = load_dataset(spec, seed=int(cfg.SURVEY.SEED))
        except (OSError, ValueError) as exc:
            log.info("parity tiles: cannot load %s (%s)", spec, exc)
            continue
        for r in ds.records:
            if len(tiles) >= n:
                break
            try:
                img = read_rgb(r["file_name"])
            except ImageReadError:
                continue
            t = np.zeros((size, size, 3), np.uint8)
            t[: min(size, img.shape[0]), : min(size, img.shape[1])] = img[:size, :size]
            tiles.append(t)
    rng = np.random.default_rng(seed)
    while len(tiles) < n:
        tiles.append(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    return tiles


def save_weights_fp16(
    model: Any, path: str | Path, *, cfg: Any = None, meta: dict[str, Any] | None = None
) -> Path:
    """Weights only, floating tensors in half precision (loads into fp32 models as usual).

    With ``cfg`` the file is self-contained: the config is embedded (``config_yaml``), so
    :func:`models.predictor.load_model` needs nothing beside it; ``meta`` (recipe, scores) too.
    """
    import torch

    sd = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    path = Path(path)
    blob: dict[str, Any] = {"model": sd, "__author__": "railpipe-survey", "dtype": "float16"}
    if cfg is not None:
        blob["config_yaml"] = cfg.dump()
    if meta is not None:
        blob["meta"] = json.dumps(meta, default=str)
    torch.save(blob, path)
    return path


class _TorchScriptRunner:
    """Runs the traced TorchScript module on tiles with the runtime's post-processing."""

    def __init__(
        self,
        module: Any,
        bgr: bool,
        size: int,
        pad: np.ndarray,
        names: Sequence[str],
        out_names: list[str],
    ) -> None:
        self.m, self.bgr, self.size, self.pad, self.names, self.out_names = (
            module,
            bgr,
            size,
            pad,
            tuple(names),
            out_names,
        )

    def __call__(self, tile: np.ndarray) -> Detections:
        import torch

        x = np.empty((3, self.size, self.size), np.float32)
        x[:] = self.pad
        arr = tile[..., ::-1] if self.bgr else tile
        x[:, : tile.shape[0], : tile.shape[1]] = arr.transpose(2, 0, 1)
        with torch.no_grad():
            outs = dict(
                zip(self.out_names, (o.numpy() for o in self.m(torch.from_numpy(x))), strict=True)
            )
        return raw_to_detections(
            outs["boxes"],
            outs["scores"],
            outs["classes"],
            outs.get("masks"),
            tile.shape[:2],
            self.names,
        )


def export_model(
    run: str | Path,
    out_dir: str | Path,
    *,
    formats: Sequence[str] = ("onnx", "torchscript"),
    size: int | None = None,
    weights: bool = True,
    parity_tiles: int = 3,
    tolerance: ParityTolerance | None = None,
) -> dict[str, Any]:
    """Export a run (see the module docstring); returns the written ``model.json`` dict."""
    import torch
    from detectron2.export import TracingAdapter

    from models.predictor import Predictor, load_model, raw_inference, traced_output_names

    formats = [f.lower() for f in formats]
    unknown = set(formats) - {"onnx", "torchscript"}
    if unknown:
        raise ExportError(f"unknown export formats {sorted(unknown)}; use onnx, torchscript")
    tol = tolerance or ParityTolerance()
    model, cfg = load_model(run, device="cpu")
    if cfg.SURVEY.KIND != "instance":
        raise ExportError(f"this exporter handles instance models; the run is {cfg.SURVEY.KIND!r}")
    size = int(size or cfg.SURVEY.TILE.SIZE)
    if size % 32:
        raise ExportError(f"export size must be a multiple of 32, got {size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bgr = cfg.INPUT.FORMAT == "BGR"
    pad = np.asarray(cfg.MODEL.PIXEL_MEAN, np.float32).reshape(3, 1, 1)
    names = list(cfg.SURVEY.CLASSES)
    tiles = _sample_tiles(cfg, size, parity_tiles)

    sample = torch.from_numpy(
        np.ascontiguousarray((tiles[0][..., ::-1] if bgr else tiles[0]).transpose(2, 0, 1)).astype(
            np.float32
        )
    )
    # the graph is traced from a copy whose GroupNorms reshape without -1 (see _ExportGroupNorm);
    # the parity reference below stays the untouched model
    adapter = TracingAdapter(_export_friendly(model), [{"image": sample}], raw_inference)
    out_names = traced_output_names(model, sample)

    pred = Predictor(model, cfg, score_threshold=0.0)
    reference = pred.predict_batch(tiles)
    files: dict[str, str] = {}
    parity: dict[str, Any] = {}
    if "torchscript" in formats:
        t0 = time.perf_counter()
        with torch.no_grad():
            ts = torch.jit.trace(adapter, adapter.flattened_inputs, check_trace=False)
        ts.save(str(out / "model.ts"))
        files["torchscript"] = "model.ts"
        runner = _TorchScriptRunner(
            torch.jit.load(str(out / "model.ts")), bgr, size, pad, names, out_names
        )
        parity["torchscript"] = _check(
            "TorchScript",
            [
                compare_detections(r, runner(t), tol.min_score)
                for r, t in zip(reference, tiles, strict=True)
            ],
            tol,
        )
        log.info(
            "TorchScript export in %.1f s: %s", time.perf_counter() - t0, parity["torchscript"]
        )
    meta: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "version": 1,
        "kind": "instance",
        "input": {
            "name": "image",
            "shape": [3, size, size],
            "channels": cfg.INPUT.FORMAT,
            "dtype": "float32",
            "pad_value": pad.ravel().tolist(),
        },
        "outputs": out_names,
        "class_names": names,
        "score_threshold": float(cfg.SURVEY.SCORE_THRESHOLD),
        "mask_threshold": 0.5,
        "tile": {
            "size": size,
            "overlap": int(cfg.SURVEY.TILE.OVERLAP),
            "merge_iou": float(cfg.SURVEY.TILE.MERGE_IOU),
            "merge_ios": float(cfg.SURVEY.TILE.MERGE_IOS),
        },
        "source_run": str(run),
        "meta_architecture": cfg.MODEL.META_ARCHITECTURE,
        "backbone_depth": int(cfg.MODEL.RESNETS.DEPTH),
        "opset": OPSET,
        "exported_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": {"torch": torch.__version__},
        "files": files,
        "parity_tolerance": asdict(tol),
        "parity": parity,
    }
    if "onnx" in formats:
        t0 = time.perf_counter()
        with torch.no_grad():
            torch.onnx.export(
                adapter,
                adapter.flattened_inputs,
                str(out / "model.onnx"),
                input_names=["image"],
                output_names=out_names,
                dynamic_axes={n: {0: "detections"} for n in out_names if n != "image_size"},
                opset_version=OPSET,
                dynamo=False,
            )
        files["onnx"] = "model.onnx"
        _write_meta(out, meta)
        from models.runtime.onnx_detector import OnnxDetector

        det = OnnxDetector(out, score_threshold=0.0, providers=["CPUExecutionProvider"])
        parity["onnx"] = _check(
            "ONNX",
            [
                compare_detections(r, d, tol.min_score)
                for r, d in zip(reference, det.predict_batch(tiles), strict=True)
            ],
            tol,
        )
        log.info("ONNX export in %.1f s: %s", time.perf_counter() - t0, parity["onnx"])
    if weights:
        (out / "config.yaml").write_text(cfg.dump(), encoding="utf-8")
        save_weights_fp16(model, out / "model_fp16.pth", cfg=cfg)
        files["weights_fp16"] = "model_fp16.pth"
    _write_meta(out, meta)
    return meta


def _export_friendly(model: Any) -> Any:
    """A copy of ``model`` with every ``GroupNorm`` replaced by :class:`_ExportGroupNorm`."""
    import copy

    import torch

    m = copy.deepcopy(model)
    for _, mod in list(m.named_modules()):
        for child_name, child in list(mod.named_children()):
            if isinstance(child, torch.nn.GroupNorm):
                setattr(mod, child_name, _ExportGroupNorm(child))
    return m.eval()


def _ExportGroupNorm(gn: Any) -> Any:
    """GroupNorm without a reshape: torch's ONNX GroupNorm reshapes to ``(N, G, -1)``, which
    onnxruntime cannot infer when a tile has no detections (N = 0 in the mask head; the rail
    model's export failed its parity check on such a tile). Here the group statistics come from
    the per-channel means through a fixed channel-averaging matrix, so no shape is inferred."""
    import torch

    class ExportGroupNorm(torch.nn.Module):
        def __init__(self, g: Any) -> None:
            super().__init__()
            c, k = int(g.num_channels), int(g.num_groups)
            grp = torch.arange(c) // (c // k)
            avg = (grp[:, None] == grp[None, :]).float() / float(c // k)
            self.register_buffer("avg", avg)
            self.eps, self.affine = float(g.eps), bool(g.affine)
            self.weight, self.bias = g.weight, g.bias

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            m = x.mean(dim=(2, 3)) @ self.avg  # (N, C): the mean of each channel's group
            m2 = (x * x).mean(dim=(2, 3)) @ self.avg
            var = (m2 - m * m).clamp_min(0.0)
            y = (x - m[:, :, None, None]) / torch.sqrt(var + self.eps)[:, :, None, None]
            if self.affine:
                y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
            return y

    return ExportGroupNorm(gn)


def _write_meta(out: Path, meta: dict[str, Any]) -> None:
    (out / "model.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
