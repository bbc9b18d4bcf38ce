"""Webhook notification of critical defects.

When a run is stored (or on ``survey report --notify``), every defect of final severity at
least ``notify.min_severity`` that has not been notified yet is POSTed as one JSON message to
``notify.webhook_url``: ``{"event": "critical_defects", "run_id", "asset_id", "defects":
[GeoJSON Feature, ...]}``. With the environment variable named by ``notify.secret_env`` set,
the body is signed with HMAC-SHA256 in the header ``X-Survey-Signature: sha256=<hex>`` (the
receiver recomputes it with the shared key). Failed posts are retried with back-off; what was
sent is recorded in the store's run record (``extra.notified``),
so a re-run does not notify the same defect twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import os
import time
import urllib.error
import urllib.request
from typing import Any

import shapely

from survey.config import NotifyConfig
from survey.defects import Defect, iso_utc
from survey.errors import SurveyError
from survey.store.base import DefectStore, RunInfo

__all__ = ["NotifyError", "build_message", "notify_critical", "sign"]

log = logging.getLogger(__name__)


class NotifyError(SurveyError, ConnectionError):
    """The webhook did not accept the message after every retry."""


def sign(body: bytes, key: str) -> str:
    """The signature header value of ``body``.

    >>> sign(b"{}", "k")
    'sha256=add853b103fbcc936a194f9eb15e29c4ff08af6e47d5d1bca4f20218e31e4fff'
    """
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def _feature(d: Defect) -> dict[str, Any]:
    props = {
        k: v for k, v in dataclasses.asdict(d).items() if k not in ("geometry", "source_files")
    }
    props = {k: (None if isinstance(v, float) and v != v else v) for k, v in props.items()}
    props["final_severity"] = d.final_severity
    props["first_seen_utc"] = iso_utc(d.first_seen_t_s)
    return {
        "type": "Feature",
        "id": d.defect_id,
        "properties": props,
        "geometry": json.loads(shapely.to_geojson(d.geometry)) if d.geometry is not None else None,
    }


def build_message(run: RunInfo | None, run_id: str, defects: list[Defect]) -> dict[str, Any]:
    """The JSON message for these defects."""
    return {
        "event": "critical_defects",
        "run_id": run_id,
        "asset_id": run.asset_id if run else "",
        "sent_utc": iso_utc(time.time()),
        "defects": [_feature(d) for d in defects],
    }


def _post(url: str, body: bytes, headers: dict[str, str], cfg: NotifyConfig) -> None:
    last = ""
    for attempt in range(max(1, cfg.retries)):
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=cfg.timeout_s) as resp:
                if 200 <= resp.status < 300:
                    return
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
            if 400 <= exc.code < 500 and exc.code != 429:
                break  # the receiver refuses this message: retrying will not help
        except (urllib.error.URLError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        time.sleep(min(0.5 * 2**attempt, 10.0))
    raise NotifyError(f"webhook {url} did not accept the message: {last}")


def notify_critical(store: DefectStore, cfg: NotifyConfig) -> int:
    """Send the not-yet-notified critical defects of the store's run; returns how many."""
    if not cfg.webhook_url:
        return 0
    if not cfg.webhook_url.startswith(("http://", "https://")):
        raise NotifyError(
            f"notify.webhook_url must be http(s), got {cfg.webhook_url!r}",
            where="notify.webhook_url",
        )
    run = store.read_run() or RunInfo(store.run_id)
    done = set(run.extra.get("notified", []))
    ds = store.read_defects()
    pick = [
        d
        for d in ds
        if d.final_severity >= cfg.min_severity
        and d.decision != "rejected"
        and d.defect_id not in done
    ]
    if not pick:
        return 0
    body = json.dumps(build_message(run, store.run_id, pick)).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "railpipe-survey"}
    key = os.environ.get(cfg.secret_env, "") if cfg.secret_env else ""
    if key:
        headers["X-Survey-Signature"] = sign(body, key)
    _post(cfg.webhook_url, body, headers, cfg)
    extra = {**run.extra, "notified": sorted(done | {d.defect_id for d in pick})}
    store.write_run(dataclasses.replace(run, extra=extra))
    log.info("notified %d critical defects to %s", len(pick), cfg.webhook_url)
    return len(pick)
