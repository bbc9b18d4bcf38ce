"""Run folders: no overwriting of a folder that is not a run, one process per run, moved runs
keep their own store."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from survey.pipeline import Pipeline, Stage
from survey.pipeline.rundir import LOCK_FILE, MARKER_FILE, RunDirError, claim_run_dir


def _pipe() -> Pipeline:
    def count(ctx: Any) -> None:
        (ctx.out / "n.txt").write_text(str(len(ctx.params["items"])))

    return Pipeline([Stage("count", count, params=("items",))])


def test_a_folder_that_is_not_a_run_is_refused_then_forced(tmp_path: Path) -> None:
    d = tmp_path / "mine"
    d.mkdir()
    (d / "config.toml").write_text("my own settings\n")
    (d / "map.html").write_text("<p>my map</p>")
    with pytest.raises(RunDirError, match=r"not a run folder \(it holds config.toml, map.html\)"):
        _pipe().run(d, params={"items": [1]}, progress=False)
    assert (d / "config.toml").read_text() == "my own settings\n"  # nothing touched
    assert not (d / "stages").exists() and not (d / MARKER_FILE).exists()
    res = _pipe().run(d, params={"items": [1]}, progress=False, force=True)
    assert [r.status for r in res] == ["ran"] and (d / MARKER_FILE).is_file()
    assert (d / "map.html").read_text() == "<p>my map</p>"
    # from now on it is a run: no --force needed, and the stage is unchanged
    assert [r.status for r in _pipe().run(d, params={"items": [1]}, progress=False)] == ["skipped"]


def test_new_empty_and_older_runs_need_no_force(tmp_path: Path) -> None:
    _pipe().run(tmp_path / "new", params={"items": []}, progress=False)
    (tmp_path / "empty").mkdir()
    _pipe().run(tmp_path / "empty", params={"items": []}, progress=False)
    old = tmp_path / "old"
    (old / "stages").mkdir(parents=True)  # a run made before the marker existed
    (old / "report.html").write_text("x")
    _pipe().run(old, params={"items": []}, progress=False)
    for d in ("new", "empty", "old"):
        assert (tmp_path / d / MARKER_FILE).is_file() and not (tmp_path / d / LOCK_FILE).exists()
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(RunDirError, match="not a folder"):
        _pipe().run(f, params={"items": []}, progress=False)


def test_a_second_process_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    rd = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        rd.mkdir()
        (rd / MARKER_FILE).write_text("{}")
        (rd / LOCK_FILE).write_text(
            json.dumps({"pid": holder.pid, "host": socket.gethostname(), "started_utc": 0})
        )
        with pytest.raises(RunDirError, match=f"in use by process {holder.pid}") as e:
            _pipe().run(rd, params={"items": [1]}, progress=False)
        assert str(rd) in str(e.value) and not (rd / "stages").exists()
        # a lock from another machine (a shared folder) is never taken over
        (rd / LOCK_FILE).write_text(json.dumps({"pid": 1, "host": "elsewhere", "started_utc": 0}))
        with pytest.raises(RunDirError, match="on host elsewhere"):
            _pipe().run(rd, params={"items": [1]}, progress=False)
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_after_a_crash_is_taken_over(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(gone.stdout)
    rd = tmp_path / "run"
    rd.mkdir()
    (rd / "run.json").write_text("{}")
    (rd / LOCK_FILE).write_text(json.dumps({"pid": pid, "host": socket.gethostname()}))
    with caplog.at_level(logging.WARNING):
        res = _pipe().run(rd, params={"items": [1, 2]}, progress=False)
    assert [r.status for r in res] == ["ran"] and "stale lock" in caplog.text
    assert not (rd / LOCK_FILE).exists()
    (rd / LOCK_FILE).write_text("garbage")  # unreadable lock: also stale
    _pipe().run(rd, params={"items": [1, 2]}, progress=False)


def test_the_lock_is_held_during_the_run_and_released_on_failure(tmp_path: Path) -> None:
    rd = tmp_path / "run"
    seen = {}

    def boom(ctx: Any) -> None:
        lock = json.loads((ctx.run_dir / LOCK_FILE).read_text())
        seen.update(lock)
        raise ValueError("stage failed")

    with pytest.raises(Exception, match="stage failed"):
        Pipeline([Stage("boom", boom)]).run(rd, progress=False)
    assert seen["pid"] == os.getpid() and seen["host"] == socket.gethostname()
    assert not (rd / LOCK_FILE).exists()
    with claim_run_dir(rd):  # held here: another process is refused, naming this one
        code = (
            "import sys; from survey.pipeline.rundir import claim_run_dir, RunDirError\n"
            f"try:\n    claim_run_dir({str(rd)!r}).__enter__()\n"
            "except RunDirError as e:\n    print(e); sys.exit(3)"
        )
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert r.returncode == 3 and f"in use by process {os.getpid()}" in r.stdout, r.stderr
    assert not (rd / LOCK_FILE).exists()


def test_a_moved_or_copied_run_opens_its_own_store(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from survey.defects import Review
    from survey.store.base import open_run_store, write_store_pointer

    src, _ = run
    p = write_store_pointer(src, str(src / "defects.gpkg"), run_id="run-110")
    assert json.loads(p.read_text())["url"] == "defects.gpkg"  # relative to the run
    copy = tmp_path / "elsewhere" / "run-copy"
    shutil.copytree(src, copy)
    with open_run_store(copy) as st:
        assert Path(st.url).resolve() == (copy / "defects.gpkg").resolve()
        st.record_review(Review(defect_id="D0003", decision="confirmed", reviewer="kim",
                                decided_t_s=1.8e9, comment="", severity=0))  # fmt: skip
    with open_run_store(src) as st:  # the original did not get the copy's decision
        assert "D0003" not in {r.defect_id for r in st.reviews()}
    moved = tmp_path / "moved"
    shutil.move(str(src), moved)
    with open_run_store(moved) as st:
        assert Path(st.url).resolve() == (moved / "defects.gpkg").resolve()
    # a store outside the run folder stays absolute
    outside = tmp_path / "shared.gpkg"
    assert json.loads(write_store_pointer(copy, str(outside), run_id="r").read_text())[
        "url"
    ] == str(outside)


def test_a_run_whose_store_stage_never_finished_is_not_exported(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A store killed midway must not export as an empty (or partial) set of defects."""
    from click.testing import CliRunner

    from survey.cli import cli
    from survey.store.base import StoreError, open_run_store

    rd, _ = run
    (rd / "stages" / "store.partial").mkdir(parents=True)  # killed inside the store stage
    with pytest.raises(StoreError, match="store stage has not finished") as e:
        open_run_store(rd)
    assert str(rd) in str(e.value)
    r = CliRunner().invoke(cli, ["export", str(rd), "-f", "csv", "-o", str(tmp_path / "x")])
    assert r.exit_code != 0 and isinstance(r.exception, StoreError)
    assert not (tmp_path / "x").exists()
    (rd / "stages" / "store").mkdir()
    (rd / "stages" / "store" / "stage.json").write_text("{}")  # the stage finished
    with open_run_store(rd) as st:
        assert len(st.read_defects()) == 36
