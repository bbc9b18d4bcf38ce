"""Many flights at once: local process pool and a Dask LocalCluster on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from survey.config import Config, GeneralConfig
from survey.pipeline import FlightJob, run_jobs
from survey.pipeline.scale import SchedulerError

HERE = Path(__file__).parent


@pytest.fixture
def flights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[FlightJob]:
    monkeypatch.syspath_prepend(str(HERE))  # workers import the job module from here
    jobs = []
    for k, name in enumerate(["f1", "f2", "bad", "f3"]):
        d = tmp_path / "flights" / name
        d.mkdir(parents=True)
        for j in range(k + 1):
            (d / f"part{j}.bin").write_bytes(bytes(100 * (j + 1)))
        jobs.append(FlightJob(str(d), str(tmp_path / "runs" / name)))
    return jobs


def _check(results: list, jobs: list[FlightJob]) -> None:  # type: ignore[type-arg]
    assert [r.job for r in results] == jobs  # in the order submitted
    ok = {Path(r.job.flight_dir).name: r for r in results}
    assert [ok[n].value["total"] for n in ("f1", "f2", "f3")] == [100, 300, 1000]
    assert ok["f1"].value["seed"] == 5  # the config travelled to the worker
    assert (
        not ok["bad"].ok and "ValueError" in ok["bad"].error and "no telemetry" in ok["bad"].error
    )
    assert "process_flight" in ok["bad"].traceback


def test_local_pool(flights: list[FlightJob]) -> None:
    from survey_pipeline_testjobs import process_flight

    cfg = Config(general=GeneralConfig(seed=5))
    res = run_jobs(process_flight, flights, config=cfg, workers=2, progress=False)
    _check(res, flights)
    assert len({r.worker for r in res}) >= 1
    again = run_jobs(process_flight, flights, config=cfg, workers=2, progress=False)
    assert again[0].value["statuses"] == ["skipped", "skipped"]  # each flight resumes


def test_dask_local_cluster(flights: list[FlightJob]) -> None:
    from distributed import LocalCluster
    from survey_pipeline_testjobs import process_flight

    cfg = Config(general=GeneralConfig(seed=5))
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        protocol="tcp",
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        res = run_jobs(
            process_flight, flights, config=cfg, scheduler=cluster.scheduler_address, progress=False
        )
    _check(res, flights)
    assert {r.worker.split(":")[1] for r in res if r.ok} != {str(__import__("os").getpid())}


def test_unreachable_scheduler_is_named() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    job = FlightJob("/nonexistent", "/nonexistent")
    with pytest.raises(
        SchedulerError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"
    ):
        run_jobs(
            print, [job], scheduler=f"tcp://127.0.0.1:{port}", progress=False, connect_timeout_s=2
        )
    with pytest.raises(SchedulerError, match="expected a scheduler address"):
        run_jobs(print, [job], scheduler="localhost:8786", progress=False)
