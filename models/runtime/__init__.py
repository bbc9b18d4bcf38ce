"""Running exported models without torch or detectron2 (what the Jetson runs).

:class:`~models.runtime.onnx_detector.OnnxDetector` loads an export bundle (``model.onnx`` +
``model.json``, written by ``survey export-model``) and runs it with onnxruntime — TensorRT or
CUDA execution providers when present, else the CPU — returning the same
:class:`~models.detections.Detections` as the PyTorch predictor, tiled the same way; :class:`~models.runtime.onnx_segmenter.OnnxSegmenter` runs a semantic
(crack) bundle and returns the same probabilities and masks as the PyTorch semantic predictor. An
import-linter contract keeps torch, torchvision and detectron2 out of this package.
"""
