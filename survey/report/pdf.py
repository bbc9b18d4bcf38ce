"""Print the HTML report to PDF with headless Chromium (Debian's ``chromium``).

The report's print stylesheet (A4 landscape, rows kept whole) makes the PDF; Chromium renders
exactly what the HTML shows, thumbnails included. Without Chromium the error says how to get it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from survey.errors import SurveyError

__all__ = ["CHROMIUM_FLAGS", "PdfError", "find_chromium", "html_to_pdf"]

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


class PdfError(SurveyError, RuntimeError):
    """The PDF could not be printed."""


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable on the PATH, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html_path: str | Path, pdf_path: str | Path, *, timeout_s: float = 120.0) -> Path:
    """Print ``html_path`` to ``pdf_path``; returns the PDF path."""
    exe = find_chromium()
    if exe is None:
        raise PdfError("printing to PDF needs Chromium (Debian: apt-get install chromium)")
    src, out = Path(html_path).resolve(), Path(pdf_path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="survey-pdf-") as profile:
        cmd = [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            src.as_uri(),
        ]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            raise PdfError(f"Chromium took longer than {timeout_s:.0f} s", path=src) from exc
    if r.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        raise PdfError(f"Chromium failed ({r.returncode}): {r.stderr.strip()[-500:]}", path=src)
    return out
