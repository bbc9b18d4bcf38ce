"""The review web app (Flask): a map of the run's defects, filters, evidence, decisions.

``create_app(store, run_dir)`` builds the app around an open :class:`~survey.store.DefectStore`.
Every decision (confirmed / rejected / needs revisit, with severity and comment) is written to
the store at once (:meth:`DefectStore.record_review`, one transaction: review log + the defect's
review fields) with the reviewer's name and the server's UTC time, so it survives a restart and
is in every later export and report.

HTTP API (JSON; errors are ``{"error": "..."}`` with a 4xx status):

- ``GET /api/run``: run record, classes, counts, the asset route and coverage as GeoJSON.
- ``GET /api/defects?class=&min_severity=&decision=&q=``: the defects matching the filters as a
  GeoJSON FeatureCollection (unknown parameters or bad values: 400).
- ``GET /api/defects/<id>``: one defect with its sightings and review history (404 if unknown).
- ``POST /api/defects/<id>/review`` with ``{"decision", "severity" (0-5 or null), "comment",
  "reviewer"}``: 415 unless JSON, 400 for malformed JSON, unknown keys or bad values, 404 for
  an unknown defect, 413 over 64 KiB.
- ``POST /api/defects`` with ``{"geometry" (GeoJSON Point or Polygon), "class_name", "severity"
  (1-5), "comment", "reviewer"}``: a defect the models missed (:mod:`survey.review.edits`);
  201 with the new defect, 400 for a bad field.
- ``GET /evidence/<path>``: an image of the run folder (crops, frames, imagery tiles); nothing
  outside it.
- ``GET /api/frames?lon=&lat=[&limit=]`` or ``?defect=<id>``: every frame that saw the point,
  best first, with its pixel (and the defect's outline) projected into each
  (:mod:`survey.review.frames`); ``GET /api/frame/<stream>/<row>.jpg`` the frame (thermal in
  false colour); ``GET /api/frame/<stream>/<row>/temperature?u=&v=`` °C at a thermal pixel.

Safety for a local app: requests must name a loopback host (or the configured one) in ``Host``
(no DNS rebinding), and a cross-site ``Origin`` on a POST is refused; with JSON-only POSTs a
web page elsewhere cannot submit decisions.
"""

from __future__ import annotations

import dataclasses
import getpass
import html
import json
import math
import time
from importlib import resources
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, jsonify, request, send_file
from werkzeug.exceptions import HTTPException

from survey.defects import DECISIONS, Defect, Review
from survey.report.severity import BASE_LEVELS
from survey.store.base import DefectNotFoundError, DefectStore

__all__ = ["create_app", "leaflet_dir"]

DATA = Path(__file__).parent / "data"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"}
FILTERS = {"class", "min_severity", "decision", "q"}
REVIEW_KEYS = {"decision", "severity", "comment", "reviewer"}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def leaflet_dir() -> Path | None:
    """Folder with leaflet.js and leaflet.css: geo's vendored copy, else Debian's libjs-leaflet."""
    try:
        geo_web = Path(str(resources.files("geo") / "data" / "web" / "leaflet"))
    except ModuleNotFoundError:  # pragma: no cover - geo is part of this project
        geo_web = Path("/nonexistent")
    for d in (geo_web, Path("/usr/share/javascript/leaflet")):
        if (d / "leaflet.js").is_file() and (d / "leaflet.css").is_file():
            return d
    return None


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, tuple):
        return list(v)
    return v


def _feature(d: Defect) -> dict[str, Any]:
    props = {k: _clean(v) for k, v in dataclasses.asdict(d).items() if k != "geometry"}
    props["final_severity"] = d.final_severity
    geom = None if d.geometry is None else json.loads(_to_geojson(d.geometry))
    return {"type": "Feature", "id": d.defect_id, "properties": props, "geometry": geom}


def _to_geojson(g: Any) -> str:
    import shapely

    return str(shapely.to_geojson(g))


def _frame_geojson(frame: Any) -> dict[str, Any] | None:
    if frame is None:
        return None
    return json.loads(frame.to_crs(4326).to_json(na="null", drop_id=True))


def _hostname(host: str) -> str:
    """The host part of a Host header.

    >>> _hostname("127.0.0.1:8765"), _hostname("[::1]:80"), _hostname("localhost")
    ('127.0.0.1', '[::1]', 'localhost')
    """
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if ":" in host else host


def _imagery(rd: Path) -> list[dict[str, Any]]:
    """The run's draped imagery layers (the ``imagery`` stage), as tile URLs of this server."""
    from survey.process.imagery import read_imagery_index

    stage = rd / "stages" / "imagery"
    try:
        layers = read_imagery_index(stage)
    except (OSError, ValueError, KeyError, TypeError):
        return []  # a damaged index: the map works without imagery
    return [
        {
            "name": la.name,
            "url": f"evidence/{(stage / la.url).relative_to(rd).as_posix()}",
            "min_zoom": la.min_zoom,
            "max_zoom": la.max_zoom,
            "bounds": list(la.bounds),
            "gsd_m": la.gsd_m,
        }
        for la in layers
    ]


class _BadRequest(ValueError):
    """A malformed query parameter (answered as 400 JSON)."""


def _bad(status: int, message: str) -> Response:
    resp = jsonify({"error": message})
    resp.status_code = status
    return resp


def _json_body() -> Any:
    """The request's JSON body, or None when it is not JSON (or nested too deep to parse)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def _text(v: Any, max_len: int, *, multiline: bool = False) -> bool:
    """A str of at most ``max_len`` characters that is valid Unicode (no lone surrogates) and
    holds no control characters (newlines and tabs allowed when ``multiline``)."""
    if not isinstance(v, str) or len(v) > max_len:
        return False
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        return False
    allowed = "\n\r\t" if multiline else ""
    return not any((ord(c) < 32 or ord(c) == 127) and c not in allowed for c in v)


def create_app(
    store: DefectStore,
    run_dir: str | Path,
    *,
    reviewer: str = "",
    allowed_hosts: tuple[str, ...] = (),
) -> Flask:
    """The review app for one run (see the module docstring)."""
    rd = Path(run_dir).resolve()
    app = Flask(__name__, static_folder=str(DATA), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.json.sort_keys = False  # type: ignore[attr-defined]
    default_reviewer = reviewer or getpass.getuser()
    hosts = LOOPBACK | set(allowed_hosts)
    leaflet = leaflet_dir()

    @app.before_request
    def _guard() -> Response | None:
        if _hostname(request.host or "") not in hosts:
            return _bad(400, f"unexpected Host {request.host!r}")
        origin = request.headers.get("Origin")
        if (
            request.method == "POST"
            and origin
            and origin.rstrip("/") != request.host_url.rstrip("/")
        ):
            return _bad(403, "cross-site request refused")
        return None

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return _bad(exc.code or 500, exc.description or exc.name)

    @app.get("/")
    def index() -> Response:
        page = (DATA / "index.html").read_text(encoding="utf-8")
        page = page.replace("__RUN_ID__", html.escape(str(store.run_id))).replace(
            "__LEAFLET__", "1" if leaflet else "0"
        )
        return Response(page, mimetype="text/html")

    @app.get("/vendor/leaflet/<path:name>")
    def vendor(name: str) -> Response:
        if leaflet is None:
            abort(404)
        path = (leaflet / name).resolve()
        if not path.is_file() or leaflet.resolve() not in path.parents:
            abort(404)
        return send_file(path)

    @app.get("/api/run")
    def run_info() -> Response:
        info = store.read_run()
        ds = store.read_defects()
        return jsonify(
            {
                "run_id": store.run_id,
                "store": store.url,
                "reviewer": default_reviewer,
                "info": None
                if info is None
                else {
                    k: _clean(v) for k, v in dataclasses.asdict(info).items() if k != "config_toml"
                },
                "classes": sorted(set(ds.class_name)),
                "known_classes": sorted(BASE_LEVELS),
                "decisions": list(DECISIONS),
                "counts": {k: int((ds.decision == k).sum()) for k in DECISIONS},
                "route": _frame_geojson(store.read_layer("route")),
                "coverage": _frame_geojson(store.read_layer("coverage")),
                "imagery": _imagery(rd),
            }
        )

    @app.get("/api/defects")
    def defects() -> Response:
        unknown = set(request.args) - FILTERS
        if unknown:
            return _bad(400, f"unknown parameters {sorted(unknown)}; use {sorted(FILTERS)}")
        ds = store.read_defects()
        keep = [True] * len(ds)
        min_sev = request.args.get("min_severity", "")
        if min_sev:
            if min_sev not in ("1", "2", "3", "4", "5"):  # str.isdigit() takes '²' and '３'
                return _bad(400, f"min_severity must be 1..5, got {min_sev!r}")
            keep = [
                k and int(s) >= int(min_sev) for k, s in zip(keep, ds.final_severity, strict=True)
            ]
        dec = request.args.get("decision", "")
        if dec:
            if dec not in DECISIONS:
                return _bad(400, f"decision must be one of {', '.join(DECISIONS)}")
            keep = [k and d == dec for k, d in zip(keep, ds.decision, strict=True)]
        cls = request.args.get("class", "")
        if cls:
            keep = [k and c == cls for k, c in zip(keep, ds.class_name, strict=True)]
        q = request.args.get("q", "").strip().lower()
        if q:
            text = [
                f"{a} {b} {c} {d}".lower()
                for a, b, c, d in zip(
                    ds.defect_id, ds.class_name, ds.chainage_label, ds.review_comment, strict=True
                )
            ]
            keep = [k and q in t for k, t in zip(keep, text, strict=True)]
        feats = [_feature(d) for d, k in zip(ds, keep, strict=True) if k]
        return jsonify({"type": "FeatureCollection", "features": feats, "total": len(ds)})

    @app.get("/api/defects/<defect_id>")
    def defect(defect_id: str) -> Response:
        try:
            d = store.defect(defect_id)
        except DefectNotFoundError:
            return _bad(404, f"no defect {defect_id!r}")
        out = _feature(d)
        dets = store.read_detections().of_defect(defect_id)
        out["sightings"] = [
            {
                k: _clean(v)
                for k, v in dataclasses.asdict(s).items()
                if k not in ("geometry", "mask_rle")
            }
            for s in dets
        ]
        out["history"] = [
            dict(dataclasses.asdict(r), decided_at=r.decided_at) for r in store.reviews(defect_id)
        ]
        return jsonify(out)

    frames_holder: dict[str, Any] = {}

    def _frames() -> Any:
        from survey.review.frames import FrameIndex

        if "index" not in frames_holder:
            info = store.read_run()
            frames_holder["index"] = FrameIndex(rd, info.config_toml if info else "")
        return frames_holder["index"]

    def _number(name: str, lo: float, hi: float) -> float:
        raw = request.args.get(name, "")
        try:
            v = float(raw)
        except ValueError:
            raise _BadRequest(f"{name} must be a number, got {raw[:40]!r}") from None
        if not (lo <= v <= hi):
            raise _BadRequest(f"{name} must be in [{lo}, {hi}], got {v}")
        return v

    @app.errorhandler(_BadRequest)
    def _bad_request(exc: _BadRequest) -> Response:
        return _bad(400, str(exc))

    @app.get("/api/frames")
    def frames_seeing() -> Response:
        limit = int(_number("limit", 1, 200)) if "limit" in request.args else 24
        outline = None
        if "defect" in request.args:
            try:
                d = store.defect(request.args["defect"])
            except DefectNotFoundError:
                return _bad(404, f"no defect {request.args['defect']!r}")
            lon, lat = float(d.lon_deg), float(d.lat_deg)
            g = d.geometry
            if g is not None and g.geom_type == "Polygon":
                outline = [(float(x), float(y)) for x, y in g.exterior.coords]
        else:
            lon, lat = _number("lon", -180.0, 180.0), _number("lat", -90.0, 90.0)
        fi = _frames()
        views = fi.frames_seeing(lon, lat, outline_lonlat=outline, limit=limit)
        return jsonify({"point": [lon, lat], "chainage": fi.chainage(lon, lat),
                        "frames": [v.to_json() for v in views]})  # fmt: skip

    @app.get("/api/frame/<stream>/<int:row>.jpg")
    def frame_image(stream: str, row: int) -> Response:
        from survey.review.frames import FrameNotFoundError

        try:
            data = _frames().image_jpeg(stream, row)
        except FrameNotFoundError as exc:
            return _bad(404, exc.message)
        return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    @app.get("/api/frame/<stream>/<int:row>/temperature")
    def frame_temperature(stream: str, row: int) -> Response:
        from survey.review.frames import FrameNotFoundError

        try:
            temp = _frames().temperature(stream, row)
        except FrameNotFoundError as exc:
            return _bad(404, exc.message)
        h, w = temp.shape
        u, v = _number("u", -0.5, w - 0.5), _number("v", -0.5, h - 0.5)
        c = temp[min(h - 1, max(0, round(v))), min(w - 1, max(0, round(u)))]
        return jsonify({"u": u, "v": v, "t_c": _clean(round(float(c), 2))})

    @app.post("/api/defects")
    def add_defect() -> Response:
        from survey.review.edits import EditError, add_inspector_defect
        from survey.store.base import StoreError

        if not request.is_json:
            return _bad(415, "send the defect as application/json")
        body = _json_body()
        if not isinstance(body, dict):
            return _bad(400, "the body must be a JSON object")
        try:
            d = add_inspector_defect(_frames(), store, body)
        except (EditError, StoreError) as exc:
            return _bad(400, exc.message)
        resp = jsonify(_feature(d))
        resp.status_code = 201
        return resp

    @app.post("/api/defects/<defect_id>/review")
    def review(defect_id: str) -> Response:
        if not request.is_json:
            return _bad(415, "send the decision as application/json")
        body = _json_body()
        if not isinstance(body, dict):
            return _bad(400, "the body must be a JSON object")
        unknown = set(body) - REVIEW_KEYS
        if unknown:
            return _bad(400, f"unknown keys {sorted(unknown)}; expected {sorted(REVIEW_KEYS)}")
        decision = body.get("decision")
        if decision not in DECISIONS:
            return _bad(400, f"decision must be one of {', '.join(DECISIONS)}")
        sev = body.get("severity")
        sev = 0 if sev is None else sev
        if not isinstance(sev, int) or isinstance(sev, bool) or not 0 <= sev <= 5:
            return _bad(
                400, "severity must be an integer 1..5, or 0/null to keep the automatic one"
            )
        comment = body.get("comment", "")
        if not _text(comment, 2000, multiline=True):
            return _bad(400, "comment must be text of at most 2000 characters (valid Unicode)")
        who = body.get("reviewer", default_reviewer)
        if not _text(who, 100) or not who.strip():
            return _bad(400, "reviewer must be a name of 1-100 printable characters")
        try:
            d = store.record_review(
                Review(
                    defect_id=defect_id,
                    decision=decision,
                    reviewer=who.strip(),
                    decided_t_s=time.time(),
                    comment=comment.strip(),
                    severity=sev,
                )
            )
        except DefectNotFoundError:
            return _bad(404, f"no defect {defect_id!r}")
        return jsonify(_feature(d))

    @app.get("/evidence/<path:rel>")
    def evidence(rel: str) -> Response:
        if "\x00" in rel:
            abort(404)
        try:
            path = (rd / rel).resolve()
        except (OSError, ValueError):
            abort(404)
        if (
            rd not in path.parents
            or path.suffix.lower() not in IMAGE_SUFFIXES
            or not path.is_file()
        ):
            abort(404)
        return send_file(path, max_age=3600)

    return app
