"""The machinery of the typed configuration: fields with help texts, loading a TOML table into a
dataclass with checked keys and types, and writing a dataclass tree back as commented TOML.

:mod:`survey.config` defines the tree with it; other packages (``missions``) describe their own
sections the same way and load them with :func:`load_section`, so the loader and its error
messages are the same everywhere.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from survey.errors import SurveyError

__all__ = ["ConfigError", "load_section", "opt", "section", "to_toml"]

T = TypeVar("T")


class ConfigError(SurveyError, ValueError):
    """A configuration file or value is invalid; names the file and the key."""


def opt(
    default: Any,
    help: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    **kw: Any,
) -> Any:
    """A dataclass field with a default and a help text (written as a comment in TOML).

    ``ge``/``gt``/``le``/``lt`` bound a number (checked at load, file and key named); every
    float must be finite (TOML's ``nan`` and ``inf`` are refused).
    """
    meta = {
        "help": help,
        "range": {
            k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None
        },
    }
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=meta, **kw)
    return field(default=default, metadata=meta, **kw)


_OPS = {
    "ge": (lambda v, b: v >= b, ">="),
    "gt": (lambda v, b: v > b, ">"),
    "le": (lambda v, b: v <= b, "<="),
    "lt": (lambda v, b: v < b, "<"),
}


def check_range(f: Any, value: Any, *, source: str, where: str) -> None:
    """Refuse a non-finite float or a number outside the field's declared range."""
    import math

    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"expected a finite number, got {value}", path=source, where=where)
    rng = (getattr(f, "metadata", None) or {}).get("range") or {}
    bad = [f"{sym} {b:g}" for k, b in rng.items() for test, sym in [_OPS[k]] if not test(value, b)]
    if bad:
        want = " and ".join(f"{_OPS[k][1]} {b:g}" for k, b in rng.items())
        raise ConfigError(f"expected a number {want}, got {value:g}", path=source, where=where)


def section(cls: type[T], help: str) -> Any:
    """A nested section field whose default is ``cls()``."""
    return field(default_factory=cls, metadata={"help": help})


def load_section(cls: type[T], data: Mapping[str, Any], *, source: str, prefix: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, checking keys and types.

    Parameters
    ----------
    cls : dataclass type
        The section to build; missing keys take the field defaults.
    data : mapping
        Parsed TOML (a table).
    source : str
        The file the table came from, for error messages.
    prefix : str
        Dotted key of this table inside the file (``"geo"``), for error messages.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{prefix}{key}"
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"unknown key; known keys: {known}", path=source, where=where)
        kwargs[key] = _coerce(hints[key], value, source=source, where=where)
        check_range(fields[key], kwargs[key], source=source, where=where)
    return cls(**kwargs)


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _coerce(tp: Any, value: Any, *, source: str, where: str) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(
                f"expected a table [{where}], got {type(value).__name__}", path=source, where=where
            )
        return load_section(tp, value, source=source, prefix=where + ".")  # type: ignore[arg-type]
    if origin in (typing.Union, types.UnionType):
        errors = []
        for alt in args:
            if alt is type(None):
                continue
            try:
                return _coerce(alt, value, source=source, where=where)
            except ConfigError as exc:
                errors.append(exc.message)
        raise ConfigError("; ".join(errors), path=source, where=where)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"expected {_type_name(tp)}, got {value!r}", path=source, where=where)
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(
                f"expected a list, got {type(value).__name__} {value!r}", path=source, where=where
            )
        item_types = args[:1] if origin is list or args[-1:] == (Ellipsis,) else args
        if origin is tuple and args[-1:] != (Ellipsis,) and len(value) != len(args):
            raise ConfigError(
                f"expected a list of {len(args)} items, got {len(value)}", path=source, where=where
            )
        out = [
            _coerce(
                item_types[min(i, len(item_types) - 1)], v, source=source, where=f"{where}[{i}]"
            )
            for i, v in enumerate(value)
        ]
        return out if origin is list else tuple(out)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is Path and isinstance(value, str):
        return Path(value)
    if tp in (int, float, str, bool) and (type(value) is tp or (tp is int and type(value) is int)):
        return value
    if tp is Any:
        return value
    raise ConfigError(
        f"expected {_type_name(tp)}, got {type(value).__name__} {value!r}", path=source, where=where
    )


# ---------------------------------------------------------------------------------------------
# writing


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str | Path):
        s = str(v).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{s}"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def to_toml(obj: Any, *, _prefix: str = "") -> str:
    """Write a config dataclass as commented TOML (the inverse of :func:`load_section`)."""
    scalars: list[str] = []
    tables: list[str] = []
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        help_text = f.metadata.get("help", "")
        if dataclasses.is_dataclass(v):
            name = f"{_prefix}{f.name}"
            body = to_toml(v, _prefix=name + ".")
            tables.append(f"# {help_text}\n[{name}]\n{body}".rstrip() + "\n")
            continue
        comment = "".join(f"# {line}\n" for line in help_text.splitlines())
        if v is None:
            scalars.append(f"{comment}# {f.name} = (unset)\n")
        else:
            scalars.append(f"{comment}{f.name} = {_toml_value(v)}\n")
    return "\n".join(scalars + tables)
