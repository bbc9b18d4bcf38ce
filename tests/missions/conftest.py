"""Fixtures of the simulator tests: one small simulated flight shared by the module tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from missions.sim.config import SimConfig
from missions.sim.simulate import SimResult, simulate_flight

#: A short rail flight with every output (small frames, dense defects, realistic errors).
SMALL_FLIGHT = SimConfig(
    asset="rail",
    start_m=900.0,
    length_m=40.0,
    seed=11,
    altitude_agl_m=20.0,
    video="320x240@10",
    stills_every_m=12.0,
    still_size="800x600",
    thermal_every_s=1.0,
    defect_density=5.0,
    camera_utc_offset_h=2.0,
)


@pytest.fixture(scope="session")
def small_flight(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimResult, Path]:
    """A simulated flight folder (about 12 s of flight) and its summary."""
    out = tmp_path_factory.mktemp("flight")
    res = simulate_flight(SMALL_FLIGHT, out)
    return res, out


@pytest.fixture(scope="session")
def small_run(
    small_flight: tuple[SimResult, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """``small_flight`` processed by ``survey process`` (no RGB model; about 5 s): a run with
    defects, detections, route, coverage, footprints and flight path. Tests must not modify it
    (copy it first)."""
    import dataclasses

    from survey.config import Config
    from survey.process.pipeline import process_flight

    _, flight = small_flight
    run = tmp_path_factory.mktemp("small_run") / "run"
    c = Config()
    cfg = dataclasses.replace(
        c,
        pipeline=dataclasses.replace(c.pipeline, progress=False),
        process=dataclasses.replace(c.process, models=["none"], basemap="", exports=["csv"]),
    )
    process_flight(flight, run, config=cfg)
    return run
