"""scripts/install_detectron2.py: the re-packing logic, and the installed detectron2 itself."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_script():  # the script is not a package module; load it by path
    spec = importlib.util.spec_from_file_location(
        "install_d2", ROOT / "scripts/install_detectron2.py"
    )
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def _fake_wheel(path: Path, d2) -> None:
    meta = (
        "Metadata-Version: 2.1\nName: sal-detectron2\nVersion: 0.7.2\n"
        "Requires-Dist: numpy<2\nRequires-Dist: tqdm>4.29.0\n\nlong description\n"
    )
    wheel = "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp310-cp310-linux_x86_64\n"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("detectron2/__init__.py", "__version__ = '0.6'\n")
        z.writestr("detectron2/_C.cpython-310-x86_64-linux-gnu.so", b"\x7fELF")
        z.writestr(f"{d2.DIST_INFO}/METADATA", meta)
        z.writestr(f"{d2.DIST_INFO}/WHEEL", wheel)
        z.writestr(f"{d2.DIST_INFO}/RECORD", "stale\n")


def test_repack_makes_a_pure_python_wheel(tmp_path: Path) -> None:
    d2 = _load_script()
    src, dst = tmp_path / "in.whl", tmp_path / d2.OUT_NAME
    _fake_wheel(src, d2)
    d2.repack(src, dst)
    with zipfile.ZipFile(dst) as z:
        names = z.namelist()
        assert not any("_C." in n for n in names)
        wheel = z.read(f"{d2.DIST_INFO}/WHEEL").decode()
        assert "Root-Is-Purelib: true" in wheel and "Tag: py3-none-any" in wheel
        meta = z.read(f"{d2.DIST_INFO}/METADATA").decode()
        assert "Requires-Dist: numpy\n" in meta and "numpy<2" not in meta
        assert "Requires-Dist: fvcore>=0.1.5,<0.1.6" in meta and meta.endswith("long description\n")
        record = z.read(f"{d2.DIST_INFO}/RECORD").decode().splitlines()
        # one line per file, with a hash that matches the stored bytes
        init_line = next(r for r in record if r.startswith("detectron2/__init__.py,"))
        assert init_line == d2._record_line("detectron2/__init__.py", b"__version__ = '0.6'\n")
        assert len(record) == len(names)


def test_repack_refuses_a_foreign_zip(tmp_path: Path) -> None:
    d2 = _load_script()
    src = tmp_path / "x.whl"
    with zipfile.ZipFile(src, "w") as z:
        z.writestr("a.txt", "x")
    with pytest.raises(d2.InstallError, match="not the pinned wheel"):
        d2.repack(src, tmp_path / "out.whl")


def test_script_is_idempotent_when_installed() -> None:
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts/install_detectron2.py")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "already importable" in r.stdout


def test_detectron2_model_zoo_mask_rcnn_runs_on_cpu() -> None:
    from models.check import build_check_model

    summary = build_check_model(96, 128)
    assert "Mask R-CNN R50-FPN" in summary and "44.4 M parameters" in summary
