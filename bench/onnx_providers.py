"""Per-tile latency of exported bundles on every onnxruntime execution provider at hand.

For each bundle (instance or semantic, `survey export-model`), and each provider this
onnxruntime offers among TensorRT, CUDA and CPU, runs ``--repeat`` tiles of the bundle's tile
size (after 3 warm-up runs: TensorRT builds its engine on the first) and prints the median and
p90 milliseconds per tile, as Markdown. On this 2-core machine only the CPU provider exists; on
a Jetson (onnxruntime-gpu for JetPack) or a GPU host the same command measures CUDA and TensorRT.

    .venv/bin/python bench/onnx_providers.py bundles/rail bundles/crack --threads 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def measure(bundle: Path, provider: str, repeat: int, threads: int | None) -> dict:
    from models.runtime.bundle import read_bundle

    b = read_bundle(bundle)
    rng = np.random.default_rng(0)
    size = int(b.meta["tile"]["size"])
    tile = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    if b.meta["kind"] == "semantic":
        from models.runtime.onnx_segmenter import OnnxSegmenter

        m = OnnxSegmenter(b, providers=[provider], threads=threads, tta="none")
        run = lambda: m.probabilities(tile)  # noqa: E731
    else:
        from models.runtime.onnx_detector import OnnxDetector

        d = OnnxDetector(b, providers=[provider], threads=threads)
        run = lambda: d.predict_batch([tile])  # noqa: E731
    for _ in range(3):
        run()
    ms = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        ms.append(1000 * (time.perf_counter() - t0))
    ms.sort()
    return {"bundle": str(bundle), "kind": b.meta["kind"], "provider": provider, "tile_px": size,
            "median_ms": round(statistics.median(ms), 1),
            "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 1)}  # fmt: skip


def main() -> None:
    import onnxruntime as ort

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundles", nargs="+", type=Path)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    have = [p for p in ORDER if p in ort.get_available_providers()]
    rows = [measure(b, p, a.repeat, a.threads) for b in a.bundles for p in have]
    print("| bundle | kind | provider | tile | median ms | p90 ms |\n|---|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['bundle']} | {r['kind']} | {r['provider']} | {r['tile_px']} | "
              f"{r['median_ms']} | {r['p90_ms']} |")  # fmt: skip
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
