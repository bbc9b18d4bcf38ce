"""The review app's HTTP API: filters, evidence, decisions saved at once, malformed requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from survey.store import open_run_store


def test_index_and_leaflet_are_served_offline(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200 and b"Review" in page.data and b"run-110" in page.data
    js = client.get("/vendor/leaflet/leaflet.js")
    assert js.status_code == 200 and b"Leaflet" in js.data[:400]
    assert client.get("/vendor/leaflet/../../errors.py").status_code == 404
    assert client.get("/static/review.js").status_code == 200


def test_run_and_filters(client: Any, run: tuple[Path, Any]) -> None:
    _, sample = run
    info = client.get("/api/run").get_json()
    assert info["counts"] == {"unreviewed": 32, "confirmed": 2, "rejected": 1, "needs_revisit": 1}
    assert info["route"]["features"][0]["geometry"]["type"] == "LineString"
    assert info["info"]["asset_id"] == "110 01"
    all_ = client.get("/api/defects").get_json()
    assert len(all_["features"]) == 36
    f0 = all_["features"][0]["properties"]
    assert (
        f0["chainage_m"] == pytest.approx(sample.defects.chainage_m[0]) and f0["thermal_crop"] == ""
    )
    conf = client.get("/api/defects?decision=confirmed").get_json()
    assert sorted(f["id"] for f in conf["features"]) == ["D0001", "D0005"]
    cls = sample.defects.class_name[0]
    by_cls = client.get(f"/api/defects?class={cls}&min_severity=1").get_json()
    assert len(by_cls["features"]) == int((sample.defects.class_name == cls).sum())
    q = client.get("/api/defects?q=on+site").get_json()  # searches review comments too
    assert len(q["features"]) == 4


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/api/defects?min_severity=9", 400, "min_severity must be 1..5"),
        ("/api/defects?decision=maybe", 400, "decision must be one of"),
        ("/api/defects?colour=red", 400, "unknown parameters ['colour']"),
        ("/api/defects/D9999", 404, "no defect 'D9999'"),
        ("/evidence/../../../etc/passwd", 404, ""),
        ("/evidence/defects.gpkg", 404, ""),
        ("/nowhere", 404, ""),
    ],
)
def test_bad_reads(client: Any, url: str, status: int, message: str) -> None:
    r = client.get(url)
    assert r.status_code == status and message in r.get_json()["error"]


def test_detail_with_sightings_history_and_evidence(client: Any, run: tuple[Path, Any]) -> None:
    _, sample = run
    d = client.get("/api/defects/D0005").get_json()
    assert [h["decision"] for h in d["history"]] == ["confirmed"] and d["history"][0][
        "reviewer"
    ] == "eva"
    assert len(d["sightings"]) == sample.defects.n_sightings[4]
    img = client.get("/evidence/" + d["properties"]["rgb_crop"])
    assert img.status_code == 200 and img.data[:2] == b"\xff\xd8"


def test_decision_is_saved_at_once(client: Any, run: tuple[Path, Any]) -> None:
    r = client.post(
        "/api/defects/D0010/review",
        json={
            "decision": "confirmed",
            "severity": 4,
            "comment": " seen on site ",
            "reviewer": "Jo",
        },
    )
    assert r.status_code == 200
    p = r.get_json()["properties"]
    assert (
        p["decision"],
        p["reviewer"],
        p["reviewed_severity"],
        p["final_severity"],
        p["review_comment"],
    ) == ("confirmed", "Jo", 4, 4, "seen on site")
    with open_run_store(run[0]) as st:  # another connection, as after a restart
        d = st.defect("D0010")
        assert (d.decision, d.reviewer, d.reviewed_severity) == ("confirmed", "Jo", 4)
        assert abs(d.decided_t_s - __import__("time").time()) < 60
    # no reviewer in the body: the app's default reviewer
    r = client.post("/api/defects/D0011/review", json={"decision": "needs_revisit"})
    assert r.get_json()["properties"]["reviewer"] == "tester"
    # undo is a decision too, kept in the history
    client.post("/api/defects/D0010/review", json={"decision": "unreviewed", "reviewer": "Jo"})
    hist = client.get("/api/defects/D0010").get_json()["history"]
    assert [h["decision"] for h in hist] == ["confirmed", "unreviewed"]


@pytest.mark.parametrize(
    ("kw", "status", "message"),
    [
        (
            {"data": "decision=confirmed", "content_type": "application/x-www-form-urlencoded"},
            415,
            "application/json",
        ),
        ({"data": "{not json", "content_type": "application/json"}, 400, "JSON object"),
        ({"json": ["confirmed"]}, 400, "JSON object"),
        ({"json": {"decision": "approve"}}, 400, "decision must be one of"),
        ({"json": {"decision": "confirmed", "severity": 7}}, 400, "severity must be an integer"),
        ({"json": {"decision": "confirmed", "severity": "5"}}, 400, "severity must be an integer"),
        ({"json": {"decision": "confirmed", "comment": 5}}, 400, "comment must be text"),
        ({"json": {"decision": "confirmed", "reviewer": "  "}}, 400, "reviewer must be a name"),
        ({"json": {"decision": "confirmed", "sql": "drop"}}, 400, "unknown keys ['sql']"),
        ({"json": {"decision": "confirmed", "comment": "x" * 70000}}, 413, ""),
    ],
)
def test_malformed_decisions_are_4xx_and_change_nothing(
    client: Any, run: tuple[Path, Any], kw: dict[str, Any], status: int, message: str
) -> None:
    r = client.post("/api/defects/D0003/review", **kw)
    assert r.status_code == status and message in r.get_json()["error"]
    with open_run_store(run[0]) as st:
        assert st.reviews("D0003") == []


def test_unknown_defect_and_wrong_method(client: Any) -> None:
    r = client.post("/api/defects/D9999/review", json={"decision": "confirmed"})
    assert r.status_code == 404
    assert client.delete("/api/defects/D0001").status_code == 405


def test_host_and_origin_checks(client: Any) -> None:
    r = client.get("/api/run", headers={"Host": "evil.example:8765"})
    assert r.status_code == 400 and "unexpected Host" in r.get_json()["error"]
    r = client.post(
        "/api/defects/D0003/review",
        json={"decision": "rejected"},
        headers={"Origin": "http://evil.example"},
    )
    assert r.status_code == 403
    r = client.post(
        "/api/defects/D0003/review",
        json={"decision": "rejected"},
        headers={"Origin": "http://localhost"},
    )
    assert r.status_code == 200


def test_survey_review_command_serves_on_loopback(run: tuple[Path, Any]) -> None:
    """`survey review RUN_DIR --port 0` binds 127.0.0.1, prints its URL and serves the run."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import urllib.request

    cmd = [
        sys.executable,
        "-m",
        "survey",
        "review",
        str(run[0]),
        "--port",
        "0",
        "--reviewer",
        "cli",
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        url = line.split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/run", timeout=30) as resp:
            info = json.loads(resp.read())
        assert info["run_id"] == "run-110" and info["reviewer"] == "cli"
    finally:
        proc.send_signal(signal.SIGINT)
        try:  # generous: a loaded 2-core CI host once took over 20 s to wind the process down
            out, err = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"survey review did not stop on Ctrl-C: {err[-2000:]}") from None
    assert proc.returncode == 0, err
    assert "stopped" in out


def test_a_hostile_run_id_is_escaped_on_the_review_page(run: tuple[Path, Any]) -> None:
    from survey.review.app import create_app
    from survey.store import open_run_store

    evil = "</title><script>alert(1)</script>"
    with open_run_store(run[0]) as st:
        st.run_id = evil  # as `survey process --run-id` would have stored it
        page = create_app(st, run[0], reviewer="t").test_client().get("/").data.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
