"""An onnxruntime session for a bundle's graph: providers in order of preference, threads,
and every failure as a :class:`~models.errors.RuntimeModelError` naming the file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from models.errors import RuntimeModelError
from models.runtime.bundle import Bundle

__all__ = ["PREFERRED_PROVIDERS", "open_session"]

#: execution providers tried in this order (whichever this onnxruntime has): Jetson/GPU first
PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def open_session(
    bundle: Bundle, providers: Sequence[str] | None = None, threads: int | None = None
) -> Any:
    """``onnxruntime.InferenceSession`` of ``bundle``'s ONNX file."""
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeModelError(
            f"onnxruntime is not installed ({exc}); install the 'onboard' extra"
        ) from exc
    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = int(threads)
    avail = ort.get_available_providers()
    chosen = [p for p in (providers or PREFERRED_PROVIDERS) if p in avail] or [
        "CPUExecutionProvider"
    ]
    path = bundle.file("onnx")
    try:
        return ort.InferenceSession(str(path), so, providers=chosen)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise RuntimeModelError(f"onnxruntime cannot load the model ({exc})", path=path) from exc
