"""Errors raised by ``models``.

Every error of this package derives from :class:`ModelError`. Subclasses also derive from the
matching builtin (``ValueError``, ``FileNotFoundError`` ...) so callers can catch either.
An error about a file names the file (``path``) and the place in it (``where``).
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "DatasetError",
    "DatasetNotFoundError",
    "ExportError",
    "ImageReadError",
    "ModelConfigError",
    "ModelError",
    "RunNotFoundError",
    "RuntimeModelError",
]


class ModelError(Exception):
    """Root of every error raised by ``models``.

    Parameters
    ----------
    message : str
        What went wrong and what was expected.
    path : str or PathLike, optional
        The offending file.
    where : str, optional
        The place in the file or the config key (``"line 12"``, ``"offset 0x40"``, ``"geo.dem"``).
    """

    def __init__(
        self, message: str, *, path: str | PathLike[str] | None = None, where: str | None = None
    ) -> None:
        self.message, self.path, self.where = message, None if path is None else str(path), where
        loc = ", ".join(x for x in (self.path, self.where) if x)
        super().__init__(f"{loc}: {message}" if loc else message)


class DatasetError(ModelError, ValueError):
    """A dataset or one of its label files is malformed (names the file and the place in it)."""


class DatasetNotFoundError(ModelError, FileNotFoundError):
    """A dataset folder, label file or image named by a dataset does not exist."""


class ImageReadError(ModelError, OSError):
    """An image file cannot be decoded (truncated, corrupt, or not an image)."""


class ModelConfigError(ModelError, ValueError):
    """A preset or model config is invalid (names the file and the config key)."""


class RunNotFoundError(ModelError, FileNotFoundError):
    """A training run folder or weights file does not exist or lacks what is needed."""


class ExportError(ModelError, RuntimeError):
    """Exporting a model (TorchScript / ONNX) failed or the exported model disagrees."""


class RuntimeModelError(ModelError, ValueError):
    """An exported model bundle (ONNX + sidecar JSON) is missing or inconsistent."""
