"""The HTML report (values checked against independent counts), its PDF, and the webhook."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from survey.cli import cli
from survey.config import Config, NotifyConfig, ReportConfig
from survey.report.html import write_report
from survey.report.notify import NotifyError, notify_critical
from survey.report.pdf import find_chromium
from survey.store import open_run_store


def _cells(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r"<tr.*?>(.*?)</tr>", body, re.S)
    return [
        [re.sub(r"<.*?>", "", c).strip() for c in re.findall(r"<t[dh].*?>(.*?)</t[dh]>", r, re.S)]
        for r in rows
    ]


def test_report_numbers(run: tuple[Path, Any]) -> None:
    run_dir, sample = run
    res = CliRunner().invoke(cli, ["report", str(run_dir)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    html = (run_dir / "report.html").read_text()
    with open_run_store(run_dir) as st:
        ds = st.read_defects()
    # per km: counts by final severity, independently binned with numpy
    rows = _cells(html, "per-km")[1:]
    assert len(rows) == 5 and rows[0][:2] == ["0+000.0", "1+000.0"] and rows[-1][1] == "4+468.9"
    km = np.minimum((ds.chainage_m // 1000).astype(int), 4)
    for k, row in enumerate(rows):
        sev = [int(c or 0) for c in row[2:7]]
        assert sev == np.bincount(ds.final_severity[km == k] - 1, minlength=5).tolist()
        assert int(row[7]) == (km == k).sum()
        assert int(row[8]) == ((km == k) & (ds.decision == "confirmed")).sum()
    # coverage: the sample leaves 0.35-0.38 and 0.70-0.715 of the line uncovered
    cov = _cells(html, "coverage")[0]
    assert cov[0] == "rgb" and cov[1].startswith("95.5 %")
    L = sample.length_m
    assert f"gap {_km(0.35 * L)} – {_km(0.38 * L)} (134 m)" in cov[2] and "(67 m)" in cov[2]
    assert rows[0][-1] == "100 %" and rows[2][-1] == "100 %"
    assert rows[1][-1] == f"{100 * (1000 - 0.03 * L) / 1000:.0f} %"  # km 1-2 holds the 134 m gap
    assert rows[3][-1] == f"{100 * (1000 - 0.015 * L) / 1000:.0f} %"  # km 3-4 holds the 67 m gap
    # summary and severity table
    flat = " ".join(html.split())
    assert "<b>36</b> defects: 2 confirmed, 1 rejected, 1 to revisit, 32 not reviewed yet" in flat
    total = _cells(html, "severity-table")[-1]
    assert [int(x) for x in total[1:6]] == np.bincount(ds.final_severity - 1, minlength=5).tolist()
    # the defect list: most severe first, each with its embedded RGB evidence thumbnail
    ids = re.findall(r'<tr class="defect" id="(D\d+)"', html)
    assert len(ids) == 36 and ds.final_severity[ds.index_of(ids[0])] == ds.final_severity.max()
    thumbs = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', html)
    assert len(thumbs) == 36 + int((ds.thermal_crop != "").sum())
    assert base64.b64decode(thumbs[0])[:2] == b"\xff\xd8"
    assert "“confirmed on site”" in html


def _km(m: float) -> str:
    from geo.chainage import format_km

    return format_km(m)


def test_report_bins_and_thumbnail_limit_follow_config(run: tuple[Path, Any]) -> None:
    run_dir, _ = run
    cfg = Config(report=ReportConfig(bin_m=500.0, max_thumbnails=3, thumbnail_px=48))
    with open_run_store(run_dir) as st:
        html = write_report(st, run_dir, run_dir / "r.html", config=cfg).read_text()
    assert len(_cells(html, "per-km")) == 1 + 9 and "Per 0.5 km" in html
    assert len(re.findall(r'src="data:image/jpeg', html)) <= 6


@pytest.mark.skipif(
    find_chromium() is None, reason="Chromium is not installed (scripts/system_deps.sh installs it)"
)
def test_pdf(run: tuple[Path, Any]) -> None:
    run_dir, _ = run
    res = CliRunner().invoke(
        cli, ["report", str(run_dir), "--pdf", str(run_dir / "report.pdf")], catch_exceptions=False
    )
    assert res.exit_code == 0, res.output
    pdf = (run_dir / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 2


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    fail_first = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Hook.fail_first > 0:
            _Hook.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        _Hook.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Any:
    _Hook.received, _Hook.fail_first = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_webhook_for_critical_defects(
    run: tuple[Path, Any], hook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir, _ = run
    monkeypatch.setenv("HOOK_KEY", "s3cret")
    cfg = NotifyConfig(webhook_url=hook, min_severity=4, secret_env="HOOK_KEY", retries=3)
    _Hook.fail_first = 1  # the receiver is briefly down: the message is retried
    with open_run_store(run_dir) as st:
        ds = st.read_defects()
        expected = sorted(ds.defect_id[(ds.final_severity >= 4) & (ds.decision != "rejected")])
        assert notify_critical(st, cfg) == len(expected) > 0
        assert notify_critical(st, cfg) == 0  # already notified: nothing twice
    ((headers, body),) = _Hook.received
    msg = json.loads(body)
    assert msg["event"] == "critical_defects" and msg["asset_id"] == "110 01"
    assert sorted(f["id"] for f in msg["defects"]) == expected
    f0 = msg["defects"][0]
    assert f0["geometry"]["type"] == "Polygon" and f0["properties"]["chainage_label"]
    good = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Survey-Signature"] == good


def test_webhook_refused_is_an_error(run: tuple[Path, Any]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = NotifyConfig(
        webhook_url=f"http://127.0.0.1:{port}/x", min_severity=1, retries=2, timeout_s=2
    )
    with open_run_store(run[0]) as st, pytest.raises(NotifyError, match="did not accept"):
        notify_critical(st, cfg)
    with open_run_store(run[0]) as st, pytest.raises(NotifyError, match="must be http"):
        notify_critical(st, NotifyConfig(webhook_url="ftp://x"))
