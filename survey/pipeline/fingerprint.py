"""Fingerprints of files, folders and values, to decide whether a stage can be skipped.

``quick`` (default) reads at most 2 MiB of a file whatever its size: its size and the SHA-256 of
its first and last MiB, plus its modification time for external inputs (a copied or touched
video counts as changed). ``full`` hashes every byte. Stage outputs are fingerprinted without
modification times, so a stage that re-runs and writes the same bytes does not force the stages
after it to run again.

Examples
--------
>>> hash_json({"b": 1, "a": [1.5, "x"]}) == hash_json({"a": [1.5, "x"], "b": 1})
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from survey.errors import SurveyError

__all__ = ["fingerprint_file", "fingerprint_files", "fingerprint_tree", "hash_json"]

CHUNK = 1 << 20
#: Files a stage folder holds for the runner itself; not part of its outputs.
RUNNER_FILES = {"stage.json", ".fingerprint"}


class InputMissingError(SurveyError, FileNotFoundError):
    """A stage's declared input file does not exist."""


def hash_json(value: Any) -> str:
    """SHA-256 of canonical JSON (sorted keys): the same value gives the same hash."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint_file(path: Path, *, mode: str = "quick", with_mtime: bool = True) -> str:
    """A file's fingerprint (see the module docstring for ``quick`` and ``full``)."""
    try:
        st = path.stat()
        h = hashlib.sha256()
        with path.open("rb") as fh:
            if mode == "full" or st.st_size <= 2 * CHUNK:
                for block in iter(lambda: fh.read(CHUNK), b""):
                    h.update(block)
            else:
                h.update(fh.read(CHUNK))
                fh.seek(-CHUNK, 2)
                h.update(fh.read(CHUNK))
    except FileNotFoundError as exc:
        raise InputMissingError("input file is missing", path=path) from exc
    except OSError as exc:
        raise SurveyError(f"cannot read input: {exc.strerror}", path=path) from exc
    parts = [str(st.st_size), h.hexdigest()]
    if with_mtime and mode == "quick":
        parts.append(str(st.st_mtime_ns))
    return ":".join(parts)


def fingerprint_tree(
    folder: Path, *, mode: str = "quick", with_mtime: bool = False
) -> dict[str, str]:
    """Relative path -> fingerprint of every file under ``folder`` (runner files excluded)."""
    out: dict[str, str] = {}
    if not folder.is_dir():
        return out
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and rel not in RUNNER_FILES and not rel.startswith("items/"):
            out[rel] = fingerprint_file(p, mode=mode, with_mtime=with_mtime)
    return out


def fingerprint_files(paths: Sequence[str | Path], *, mode: str = "quick") -> dict[str, Any]:
    """Fingerprints of external inputs (files or folders), keyed by absolute path."""
    out: dict[str, Any] = {}
    for raw in paths:
        p = Path(raw).absolute()
        if p.is_dir():
            out[str(p)] = fingerprint_tree(p, mode=mode, with_mtime=True)
        else:
            out[str(p)] = fingerprint_file(p, mode=mode, with_mtime=True)
    return out
