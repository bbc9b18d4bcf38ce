"""The review app in headless Chromium: load, click a defect, confirm it, restart, reload, see it."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from survey.store import open_run_store

CHROMIUM = shutil.which("chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (scripts/system_deps.sh)"
)


@contextmanager
def serving(run_dir: Path) -> Iterator[str]:
    """The review app on a free loopback port, as `survey review` runs it; stops on exit."""
    from werkzeug.serving import make_server

    from survey.review.app import create_app

    store = open_run_store(run_dir)
    server = make_server(
        "127.0.0.1", 0, create_app(store, run_dir, reviewer="nobody"), threaded=True
    )
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.port}/"
    finally:
        server.shutdown()
        server.server_close()
        store.close()
        t.join(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def test_confirm_a_defect_and_see_it_after_restart(browser: Any, run: tuple[Path, Any]) -> None:
    run_dir, sample = run
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    with serving(run_dir) as url:
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']", timeout=20000)
        assert page.evaluate("typeof window.L") == "object"  # Leaflet, served offline
        assert page.locator("path.defect-marker").count() == 36
        assert page.locator("#list tr.row").count() == 36
        page.locator("#reviewer").fill("Inspector Gadget")
        page.locator("#f-q").fill("D0007")  # D0007 and D0008 lie 4 m apart: search, then click
        page.wait_for_function("document.querySelectorAll('path.defect-marker').length === 1")
        page.locator("path.defect-D0007").click()  # the marker on the map
        page.wait_for_selector("#detail h2:has-text('D0007')")
        assert page.locator("#detail .decision").inner_text() == "unreviewed"
        assert page.locator("#detail .evidence img").first.evaluate("i => i.naturalWidth") == 96
        page.locator("#severity").select_option("5")
        page.locator("#comment").fill("fishplate cracked, checked on site")
        page.locator("#btn-confirm").click()
        page.wait_for_selector("#status.ok")
        assert "saved: confirmed by Inspector Gadget" in page.locator("#status").inner_text()
        assert page.locator("#list tr[data-id='D0007'] td").nth(4).inner_text() == "confirmed"
        assert "#000" in page.locator("path.defect-D0007").get_attribute("stroke")  # restyled
    with open_run_store(run_dir) as st:  # saved in the store at once
        d = st.defect("D0007")
        assert (d.decision, d.reviewer, d.reviewed_severity, d.review_comment) == (
            "confirmed",
            "Inspector Gadget",
            5,
            "fishplate cracked, checked on site",
        )
    with serving(run_dir) as url:  # a new server process on the same run: the decision is there
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']", timeout=20000)
        assert page.locator("#list tr[data-id='D0007'] td").nth(4).inner_text() == "confirmed"
        page.locator("#list tr[data-id='D0007']").click()
        page.wait_for_selector("#detail h2:has-text('D0007')")
        assert page.locator("#detail .decision").inner_text() == "confirmed"
        assert "fishplate cracked" in page.locator("#detail .history").inner_text()
        # filters: only confirmed defects are left on the map and in the list
        page.locator("#f-decision").select_option("confirmed")
        page.wait_for_function("document.querySelectorAll('#list tr.row').length === 3")
        assert page.locator("path.defect-marker").count() == 3
    assert not errors
    assert all(
        u.startswith("http://127.0.0.1:") or u.startswith("data:") for u in requests
    )  # nothing from the internet
    page.close()
