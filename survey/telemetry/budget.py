"""A time and size budget for third-party log parsers (pyulog, pymavlink).

Those parsers can loop forever or rescan byte by byte on a corrupt file. :func:`run_bounded`
runs one reader call in a child process (forked where the platform allows) that is killed when
its time is up, so one bad file costs at most the budget and becomes a
:class:`~survey.telemetry.errors.TelemetryFormatError` naming the file; the caller skips it.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

from survey.telemetry.errors import TelemetryError, TelemetryFormatError

__all__ = [
    "BUDGET_ENV",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT_S",
    "bounded_enabled",
    "budget_s",
    "run_bounded",
]

log = logging.getLogger(__name__)

#: Seconds allowed for any file, before the per-MiB allowance.
DEFAULT_TIMEOUT_S = 30.0
#: Extra seconds allowed per MiB of file (pyulog/pymavlink parse well over 1 MiB/s).
TIMEOUT_S_PER_MIB = 2.0
#: Largest log handed to a third-party parser (bytes).
DEFAULT_MAX_BYTES = 4 << 30


#: Environment variable that replaces :data:`DEFAULT_TIMEOUT_S` (seconds, > 0).
BUDGET_ENV = "SURVEY_PARSER_BUDGET_S"


def budget_s(size_bytes: int, base_s: float | None = None) -> float:
    """The time budget for a file of ``size_bytes``: ``base_s`` plus 2 s per MiB.

    ``base_s`` defaults to ``$SURVEY_PARSER_BUDGET_S`` or :data:`DEFAULT_TIMEOUT_S`; the per-MiB
    allowance scales with it (a 1 s base gives 1/15 s per MiB).

    >>> budget_s(0, 30.0), budget_s(1 << 20, 30.0)
    (30.0, 32.0)
    """
    if base_s is None:
        raw = os.environ.get(BUDGET_ENV, "")
        try:
            base_s = float(raw) if raw else DEFAULT_TIMEOUT_S
        except ValueError:
            log.warning(
                "%s=%r is not a number of seconds; using %s", BUDGET_ENV, raw, DEFAULT_TIMEOUT_S
            )
            base_s = DEFAULT_TIMEOUT_S
        if not base_s > 0:
            base_s = DEFAULT_TIMEOUT_S
    per_mib = TIMEOUT_S_PER_MIB * base_s / DEFAULT_TIMEOUT_S
    return base_s + per_mib * size_bytes / (1 << 20)


def _watch_parent(parent: int) -> None:
    """Exit the child when its parent is gone (killed): a looping parser must not outlive it."""
    import time

    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _child(conn: Any, fn: Callable[[Path], Any], path: Path, parent: int) -> None:
    import sys
    import threading

    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()

    # pyulog and pymavlink print their complaints about a corrupt file to stdout, which would
    # corrupt `survey inspect --json` and the progress display: silence them in the child
    sys.stdout = open(os.devnull, "w")
    try:
        out: tuple[str, Any] = ("ok", fn(path))
    except TelemetryError as exc:
        out = ("error", exc)
    except BaseException as exc:
        out = ("crash", f"{type(exc).__name__}: {exc}")
    try:
        conn.send_bytes(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception as exc:
        conn.send_bytes(pickle.dumps(("crash", f"result not transferable ({exc})")))
    finally:
        conn.close()


def run_bounded(
    fn: Callable[[Path], Any],
    path: str | Path,
    *,
    timeout_s: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    what: str = "parser",
) -> Any:
    """``fn(path)`` in a child process, killed after ``timeout_s`` (default :func:`budget_s`).

    Raises
    ------
    TelemetryFormatError
        The file is larger than ``max_bytes``, the call ran past its budget, the child died,
        or ``fn`` raised something other than a :class:`TelemetryError` (which is re-raised).
    """
    p = Path(path)
    size = p.stat().st_size
    if size > max_bytes:
        raise TelemetryFormatError(
            f"{size} bytes is over the {max_bytes}-byte limit for the {what}", path=p
        )
    if mp.current_process().daemon:  # a daemonic worker may not fork children
        return fn(p)
    limit = budget_s(size) if timeout_s is None else float(timeout_s)
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, fn, p, os.getpid()), daemon=True)
    proc.start()
    send.close()
    try:
        if not recv.poll(limit):
            raise TelemetryFormatError(
                f"the {what} did not finish within its {limit:.0f} s budget "
                "(a corrupt file can make it loop); file skipped",
                path=p,
            )
        try:
            status, value = pickle.loads(recv.recv_bytes())
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            raise TelemetryFormatError(
                f"the {what} died while reading the file (exit code {proc.exitcode})", path=p
            ) from exc
    finally:
        recv.close()
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        if hasattr(proc, "close") and not proc.is_alive():
            proc.close()
    if status == "ok":
        return value
    if status == "error":
        raise value
    raise TelemetryFormatError(f"the {what} failed on the file ({value})", path=p)


def bounded_enabled() -> bool:
    """False when ``SURVEY_PARSER_INPROCESS=1`` (debugging: run parsers in this process)."""
    return os.environ.get("SURVEY_PARSER_INPROCESS", "") != "1"
