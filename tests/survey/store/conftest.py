"""A temporary PostgreSQL + PostGIS server on loopback, started from Debian's packages.

PostgreSQL refuses to run as root; under root (CI) the cluster runs as the ``postgres`` user
(``runuser``/``setpriv``) in a fresh folder under /tmp, on a free port. Tests that need it skip
with the reason when the server binaries or the PostGIS extension are not installed
(``scripts/system_deps.sh`` installs them), or when there is no unprivileged user to run it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _pg_bin() -> tuple[Path | None, str]:
    inits = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not inits:
        found = shutil.which("initdb")
        if found is None:
            return (
                None,
                "PostgreSQL server binaries (initdb) are not installed; run scripts/system_deps.sh",
            )
        return Path(found).parent, ""
    return Path(inits[-1]).parent, ""


def _as_user() -> tuple[list[str], int | None, str]:
    if os.getuid() != 0:
        return [], None, ""
    try:
        uid = pwd.getpwnam("postgres").pw_uid
    except KeyError:
        return [], None, "running as root and there is no 'postgres' user to run PostgreSQL as"
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--"], uid, ""
    if shutil.which("setpriv"):
        return ["setpriv", f"--reuid={uid}", "--regid=postgres", "--init-groups"], uid, ""
    return [], None, "running as root without runuser or setpriv to drop to the 'postgres' user"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgis_server() -> Iterator[str]:
    """URL of a throw-away PostgreSQL + PostGIS server (database ``postgres``, trust auth)."""
    bindir, why = _pg_bin()
    if bindir is None:
        pytest.skip(why)
    version = bindir.parent.name
    if not glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control"):
        pytest.skip(
            f"the PostGIS extension for PostgreSQL {version} is not installed (Debian postgresql-{version}-postgis-3)"
        )
    prefix, uid, why = _as_user()
    if why:
        pytest.skip(why)
    base = Path(tempfile.mkdtemp(prefix="survey-pg-"))
    if uid is not None:
        os.chown(base, uid, -1)
    port = _free_port()
    data, log = base / "data", base / "server.log"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=120, check=False
        )

    r = run(
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-A",
        "trust",
        "-U",
        "postgres",
        "--no-sync",
        "-E",
        "UTF8",
        "--locale=C",
    )
    if r.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"initdb failed: {r.stderr[-2000:]}")
    opts = f"-h 127.0.0.1 -p {port} -k {base} -F -c fsync=off -c full_page_writes=off"
    r = run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        opts,
        "-l",
        str(log),
        "-w",
        "-t",
        "60",
        "start",
    )
    if r.returncode != 0:
        text = log.read_text(errors="replace")[-2000:] if log.exists() else r.stderr
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {text}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_schema() -> str:
    """A fresh schema name, so tests sharing the server do not see each other's tables."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture(params=["gpkg", "postgis"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., object]:
    """Open a store of each kind: ``factory(run_id="r1")`` (reopening gives the same data)."""
    from survey.store import open_store

    if request.param == "gpkg":
        return lambda run_id="r1": open_store(tmp_path / "run" / "defects.gpkg", run_id=run_id)
    url = request.getfixturevalue("postgis_server")
    schema = request.getfixturevalue("pg_schema")
    return lambda run_id="r1": open_store(url, run_id=run_id, schema=schema)


@pytest.fixture(scope="session")
def rail_line(shared_data: Path) -> object:
    """The Tullnerfelder Bahn (OSM way 100006586, 4.47 km) as a WGS84 LineString."""
    from survey.defects.sample import osm_way

    line, _ = osm_way(shared_data / "geometry" / "railway_osm" / "Sankt_Poelten_railways.geojson")
    return line


@pytest.fixture(scope="session")
def sample(rail_line: object) -> object:
    """A realistic sample run (36 defects, their sightings, route, coverage) along rail_line."""
    from survey.defects.sample import sample_run

    return sample_run(rail_line, asset_id="110 01", run_id="r1")  # type: ignore[arg-type]
