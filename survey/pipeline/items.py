"""Atomic, self-checking checkpoint items (one pickled result per frame or file).

:func:`write_item` writes ``MAGIC + length + sha256 + pickle`` to a temporary file, fsyncs it
and renames it into place, so an interrupted run never leaves a half-written item under the
final name. :func:`read_item` checks length and checksum; a damaged or truncated item (from
an older run, a full disk, a copy cut short) is logged with its path, deleted and reported as
missing (``None``), so the stage recomputes it instead of failing on every re-run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import struct
from pathlib import Path
from typing import Any

__all__ = ["MISSING", "item_ok", "load_required", "read_item", "write_item"]

log = logging.getLogger(__name__)

_MAGIC = b"SVITEM1\n"
_HEAD = struct.Struct("<Q32s")  # payload length, sha256 of the payload


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: What :func:`read_item` returns for an absent or damaged item (``None`` is a valid result).
MISSING: Any = _Missing()


def write_item(path: Path, obj: Any) -> None:
    """Pickle ``obj`` to ``path`` atomically (temp file, fsync, rename) with length + sha256."""
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        fh.write(_MAGIC + _HEAD.pack(len(payload), hashlib.sha256(payload).digest()) + payload)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _check(path: Path) -> tuple[bytes | None, str]:
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None, ""
    except OSError as exc:
        return None, f"unreadable ({exc.strerror})"
    if not blob.startswith(_MAGIC):
        return blob, ""  # an item written before checksums: plain pickle, checked on load
    head = blob[len(_MAGIC) : len(_MAGIC) + _HEAD.size]
    if len(head) < _HEAD.size:
        return None, "truncated header"
    n, digest = _HEAD.unpack(head)
    payload = blob[len(_MAGIC) + _HEAD.size :]
    if len(payload) != n:
        return None, f"truncated: {len(payload)} of {n} bytes"
    if hashlib.sha256(payload).digest() != digest:
        return None, "checksum mismatch"
    return payload, ""


def read_item(path: Path) -> Any:
    """The object in ``path``, or :data:`MISSING` when absent or damaged (then deleted, logged)."""
    payload, why = _check(path)
    if payload is not None:
        try:
            return pickle.loads(payload)
        except Exception as exc:  # an old unchecked item cut short: any unpickling failure
            why = f"cannot be unpickled ({type(exc).__name__})"
    if why:
        log.warning("%s: damaged checkpoint item (%s): discarded, it is recomputed", path, why)
        path.unlink(missing_ok=True)
    return MISSING


def item_ok(path: Path) -> bool:
    """Whether ``path`` holds an intact item (a damaged one is discarded, as by read_item)."""
    return read_item(path) is not MISSING


def load_required(path: Path) -> Any:
    """:func:`read_item` for an item that was just checked or written: raise when it is not there.

    Raises
    ------
    SurveyError
        The item vanished or was damaged between the check and the load (another process in
        the same run folder, a failing disk); running the stage again recomputes it.
    """
    from survey.errors import SurveyError

    obj = read_item(path)
    if obj is MISSING:
        raise SurveyError(
            "checkpoint item missing or damaged just after it was written; run again to "
            "recompute it",
            path=path,
        )
    return obj
