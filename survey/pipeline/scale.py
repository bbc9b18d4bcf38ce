"""Many flights at once: a local process pool by default, a Dask distributed cluster on request.

:func:`run_jobs` calls ``fn(job, config_toml)`` for every :class:`FlightJob`, where ``fn`` is a
module-level function of an importable module (workers import it) and ``config_toml`` is the
resolved config as TOML text (workers rebuild it with ``load_config_text``). Each flight is
independent: one that fails is reported in its :class:`JobResult` with the error and the
traceback, and the others go on. Results come back in the order of the jobs.

- ``scheduler=""``: a ``ProcessPoolExecutor`` of ``workers`` processes (spawned, so no state
  leaks between flights; 0 = the number of CPU cores).
- ``scheduler="tcp://host:8786"``: the flights are submitted to that Dask scheduler. Workers must
  see the flight and run folders under the same paths (a shared file system) and have this
  package installed. A fleet's backlog runs by starting ``dask scheduler`` on one machine and
  ``dask worker tcp://host:8786 --nworkers 1 --nthreads 2`` on each processing machine (one
  flight per worker process), then ``survey process ... --scheduler tcp://host:8786``; each
  flight's stage runner still skips finished work, so a re-submitted backlog resumes.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

from survey.config import Config, to_toml
from survey.errors import SurveyError

__all__ = ["FlightJob", "JobResult", "SchedulerError", "run_jobs"]

log = logging.getLogger(__name__)
JobFn = Callable[["FlightJob", str], Any]


class SchedulerError(SurveyError, ConnectionError):
    """The Dask scheduler cannot be reached or used."""


@dataclass(frozen=True)
class FlightJob:
    """One flight to process: where it is, where its run goes, and its parameters."""

    flight_dir: str
    run_dir: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobResult:
    """How one flight went: its return value, or the error and traceback when it failed."""

    job: FlightJob
    ok: bool
    seconds: float
    value: Any = None
    error: str = ""
    traceback: str = ""
    worker: str = ""


def _call(fn: JobFn, job: FlightJob, config_toml: str) -> JobResult:
    """Run one job in a worker; a failure becomes a result (the batch goes on)."""
    t0 = time.perf_counter()
    where = f"{socket.gethostname()}:{os.getpid()}"
    try:
        value = fn(job, config_toml)
    except Exception as exc:  # reported per flight in the JobResult, never dropped
        return JobResult(
            job,
            False,
            time.perf_counter() - t0,
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
            worker=where,
        )
    return JobResult(job, True, time.perf_counter() - t0, value=value, worker=where)


def run_jobs(
    fn: JobFn,
    jobs: Sequence[FlightJob],
    *,
    config: Config | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool | None = None,
    connect_timeout_s: float = 15.0,
) -> list[JobResult]:
    """Process ``jobs`` in parallel; see the module docstring.

    ``scheduler`` and ``workers`` default to ``config.pipeline.scheduler`` / ``.workers``.
    """
    from tqdm.auto import tqdm

    cfg = config or Config()
    sched = cfg.pipeline.scheduler if scheduler is None else scheduler
    n = cfg.pipeline.workers if workers is None else workers
    show = cfg.pipeline.progress if progress is None else progress
    text = to_toml(cfg)
    if not jobs:
        return []
    bar = tqdm(total=len(jobs), unit="flight", desc="flights", disable=not show, dynamic_ncols=True)
    try:
        if sched:
            results = _run_dask(fn, jobs, text, sched, bar, connect_timeout_s)
        else:
            results = _run_local(fn, jobs, text, n or os.cpu_count() or 1, bar)
    finally:
        bar.close()
    for r in results:
        if not r.ok:
            log.error("flight %s failed on %s: %s", r.job.flight_dir, r.worker, r.error)
    return results


def _run_local(
    fn: JobFn, jobs: Sequence[FlightJob], text: str, n: int, bar: Any
) -> list[JobResult]:
    out: list[JobResult | None] = [None] * len(jobs)
    with ProcessPoolExecutor(
        max_workers=min(n, len(jobs)), mp_context=get_context("spawn")
    ) as pool:
        futs = {pool.submit(_call, fn, job, text): i for i, job in enumerate(jobs)}
        for fut in as_completed(futs):
            i = futs[fut]
            try:
                out[i] = fut.result()
            except BrokenProcessPool as exc:  # a worker died (killed, out of memory)
                out[i] = JobResult(jobs[i], False, 0.0, error=f"worker process died: {exc}")
            bar.update(1)
    return [r for r in out if r is not None]


def _run_dask(
    fn: JobFn, jobs: Sequence[FlightJob], text: str, address: str, bar: Any, timeout_s: float
) -> list[JobResult]:
    from distributed import Client

    if not address.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        raise SchedulerError(f"expected a scheduler address like tcp://host:8786, got {address!r}")
    try:
        client = Client(address, timeout=f"{timeout_s}s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    try:
        with client.as_current():
            return _gather(client, fn, jobs, text, bar)
    finally:
        client.close()


def _gather(
    client: Any, fn: JobFn, jobs: Sequence[FlightJob], text: str, bar: Any
) -> list[JobResult]:
    from distributed import KilledWorker
    from distributed import as_completed as dask_completed

    futs = client.map(_call, [fn] * len(jobs), list(jobs), [text] * len(jobs), pure=False)
    index = {f.key: i for i, f in enumerate(futs)}
    out: list[JobResult | None] = [None] * len(jobs)
    for fut in dask_completed(futs):
        i = index[fut.key]
        try:
            out[i] = fut.result()
        except KilledWorker as exc:  # the flight killed every worker it was tried on
            out[i] = JobResult(jobs[i], False, 0.0, error=f"worker died: {exc}")
        bar.update(1)
    return [r for r in out if r is not None]
