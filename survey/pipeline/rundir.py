"""Run folders: what marks one, and the lock that keeps two processes out of the same one.

A run folder holds ``.survey-run`` (a small JSON marker written when the runner first creates
it). :func:`claim_run_dir` refuses a folder that exists, is not empty and is neither marked nor
an older run (``run.json`` or ``stages/``): it names what is there and asks for ``--force``,
rather than overwriting the user's files. It then takes ``RUN_DIR/.lock`` (created exclusively,
holding the pid, host and start time of its holder): a second ``survey process`` on the same
folder is refused with the holder named; a lock whose process is gone (same host, pid not
running) is stale after a crash or ``kill -9`` and is taken over with a warning.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from survey.errors import SurveyError

__all__ = ["LOCK_FILE", "MARKER_FILE", "RunDirError", "claim_run_dir", "is_run_dir"]

log = logging.getLogger(__name__)
MARKER_FILE = ".survey-run"
LOCK_FILE = ".lock"


class RunDirError(SurveyError, RuntimeError):
    """The folder is not a run folder, or another process is using it."""


def is_run_dir(path: Path) -> bool:
    """A folder this project's runner made (marker, or an older run's ``run.json``/``stages``)."""
    return any((path / n).exists() for n in (MARKER_FILE, "run.json", "stages"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _take_lock(rd: Path) -> Path:
    lock = rd / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started_utc": time.time()}
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(lock.read_text(encoding="utf-8"))
                pid, host = int(holder["pid"]), str(holder["host"])
            except (OSError, ValueError, KeyError, TypeError):
                holder, pid, host = {}, -1, ""
            if host == me["host"] and pid > 0 and _pid_alive(pid) and pid != me["pid"]:
                since = time.strftime(
                    "%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(holder.get("started_utc", 0)))
                )
                raise RunDirError(
                    f"the run folder is in use by process {pid} on {host} since {since}; wait "
                    f"for it to finish (or, if that process is gone, delete {lock})",
                    path=rd,
                ) from None
            if host and host != me["host"]:
                raise RunDirError(
                    f"the run folder is locked by process {pid} on host {host} (a shared "
                    f"folder?); if that run is over, delete {lock}",
                    path=rd,
                ) from None
            log.warning("%s: taking over a stale lock (%s)", lock, holder or "unreadable")
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(me, fh)
        return lock
    raise RunDirError(f"cannot take the lock {lock}", path=rd)


@contextlib.contextmanager
def claim_run_dir(rd: Path, *, force: bool = False) -> Iterator[Path]:
    """Check ``rd`` is (or may become) a run folder, mark it, and hold its lock while inside.

    ``force`` lets a non-empty folder that is not a run become one (its files are kept; the
    run's own files are written beside them).
    """
    rd = Path(rd)
    if rd.exists() and not rd.is_dir():
        raise RunDirError("the run path exists and is not a folder", path=rd)
    if rd.is_dir() and not is_run_dir(rd):
        entries = sorted(p.name for p in rd.iterdir())
        if entries and not force:
            shown = ", ".join(entries[:6]) + (
                f" and {len(entries) - 6} more" if len(entries) > 6 else ""
            )
            raise RunDirError(
                f"the folder is not empty and is not a run folder (it holds {shown}); choose a "
                "new --out, or pass --force to write the run into it (files of the same names, "
                "such as config.toml, map.html, report.html, summary.json, are replaced)",
                path=rd,
            )
    rd.mkdir(parents=True, exist_ok=True)
    marker = rd / MARKER_FILE
    if not marker.exists():
        marker.write_text(
            json.dumps({"format": "railpipe-survey/run", "created_utc": time.time()}),
            encoding="utf-8",
        )
    lock = _take_lock(rd)
    try:
        yield rd
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
