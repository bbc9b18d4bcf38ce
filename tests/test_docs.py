"""The docs stay true to the tree: links resolve, named files exist, named commands exist.

README.md and docs/*.md are what a newcomer reads first; a link to a page that moved, a
module path that was renamed or a `survey` command that no longer exists is a defect of the
docs, and these tests fail on it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from survey.cli import cli as survey_cli

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# a backticked path into one of the project's own folders, e.g. `geo/camera.py`, `bench/x.py`
REPO_PATH = re.compile(
    r"`((?:survey|geo|thermal|models|missions|bench|scripts|tests|docs|\.ci)/[A-Za-z0-9_./-]*)`"
)
# `survey NAME` at the start of a line in a code block or inside backticks
COMMAND = re.compile(r"(?:^|`)survey ([a-z][a-z-]+)", re.MULTILINE)


def _pages(repo_root: Path) -> list[Path]:
    return [repo_root / "README.md", *sorted((repo_root / "docs").glob("*.md"))]


def _ids(repo_root: Path) -> list[str]:
    return [p.relative_to(repo_root).as_posix() for p in _pages(repo_root)]


def _root() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("page", _ids(_root()))
def test_relative_links_resolve(repo_root: Path, page: str) -> None:
    path = repo_root / page
    broken = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # http(s), mailto, in-page anchors
        file = target.split("#", 1)[0]
        if not (path.parent / file).exists():
            broken.append(target)
    assert not broken, f"{page}: links to missing files: {broken}"


@pytest.mark.parametrize("page", _ids(_root()))
def test_named_repo_paths_exist(repo_root: Path, page: str) -> None:
    text = (repo_root / page).read_text(encoding="utf-8")
    missing = sorted(
        {p for p in REPO_PATH.findall(text) if not (repo_root / p.rstrip("/.")).exists()}
    )
    assert not missing, f"{page}: names files or folders that do not exist: {missing}"


def test_named_survey_commands_exist(repo_root: Path) -> None:
    result = CliRunner().invoke(survey_cli, ["--help"])
    assert result.exit_code == 0, result.output
    known = set(re.findall(r"^  ([a-z][a-z-]+)\s", result.output, re.MULTILINE))
    assert {"process", "inspect", "demo"} <= known, result.output
    named: dict[str, set[str]] = {}
    for page in _pages(repo_root):
        for name in COMMAND.findall(page.read_text(encoding="utf-8")):
            named.setdefault(name, set()).add(page.name)
    unknown = {n: sorted(p) for n, p in named.items() if n not in known}
    assert not unknown, f"docs name `survey` commands that do not exist: {unknown}"


def test_readme_starts_with_the_two_commands(repo_root: Path) -> None:
    """The guide's promise: the README's first lines give the demo and the test command."""
    head = "\n".join((repo_root / "README.md").read_text(encoding="utf-8").splitlines()[:25])
    assert "make demo" in head and "make test" in head, head
    makefile = (repo_root / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^demo:", makefile, re.MULTILINE), "Makefile has no demo target"
    assert re.search(r"^test:", makefile, re.MULTILINE), "Makefile has no test target"


def test_the_link_checker_catches_a_broken_link(tmp_path: Path) -> None:
    """The checks above can fail: a page with a dead link and a dead path is caught."""
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "x.md"
    page.write_text("see [gone](gone.md) and `geo/not_there.py`\n", encoding="utf-8")
    targets = LINK.findall(page.read_text(encoding="utf-8"))
    assert targets == ["gone.md"] and not (page.parent / "gone.md").exists()
    assert REPO_PATH.findall(page.read_text(encoding="utf-8")) == ["geo/not_there.py"]
