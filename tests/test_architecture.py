"""The import contract (pyproject [tool.importlinter]) holds, and breaks when it should."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGES = ["survey", "geo", "thermal", "models", "missions"]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("pkg", PACKAGES)
def test_package_layout(repo_root: Path, pkg: str) -> None:
    d = repo_root / pkg
    assert (d / "py.typed").is_file() and (d / "errors.py").is_file()
    mod = importlib.import_module(pkg)
    assert mod.__all__, f"{pkg}.__all__ is empty"
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{pkg}.{name} listed in __all__ but missing"
    root = getattr(importlib.import_module(f"{pkg}.errors"), mod.__all__[0])
    err = root("bad value", path="/x/f.bin", where="offset 12")
    assert str(err) == "/x/f.bin, offset 12: bad value" and err.path == "/x/f.bin"


def test_contract_holds(repo_root: Path) -> None:
    r = _lint(repo_root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("geo/_bad.py", "import thermal\n", "independent"),
        ("models/_bad.py", "import survey\n", "Layers"),
        ("survey/_bad.py", "import missions\n", "Layers"),
        ("thermal/_bad.py", "import torch\n", "Only models imports torch"),
    ],
)
def test_contract_breaks_on_forbidden_import(
    repo_root: Path, tmp_path: Path, module: str, line: str, contract: str
) -> None:
    work = tmp_path / "tree"
    work.mkdir()
    shutil.copy(repo_root / "pyproject.toml", work)
    for pkg in PACKAGES:
        shutil.copytree(repo_root / pkg, work / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (work / module).write_text(line)
    r = _lint(work)
    assert r.returncode != 0, r.stdout
    assert "BROKEN" in r.stdout and contract in r.stdout
