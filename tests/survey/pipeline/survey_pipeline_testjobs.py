"""Flight jobs for the scale tests (imported by worker processes through sys.path)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from survey.config import load_config_text
from survey.pipeline import FlightJob, Pipeline, Stage, StageContext


def _sizes(ctx: StageContext) -> None:
    flight = Path(ctx.params["flight_dir"])
    sizes = {p.name: p.stat().st_size for p in sorted(flight.iterdir()) if p.is_file()}
    (ctx.out / "sizes.json").write_text(json.dumps(sizes))


def _total(ctx: StageContext) -> None:
    sizes = json.loads((ctx.input("sizes") / "sizes.json").read_text())
    (ctx.out / "total.txt").write_text(str(sum(sizes.values())))


def _flight_files(params: dict[str, Any]) -> list[Path]:
    return [Path(params["flight_dir"])]


PIPE = Pipeline(
    [
        Stage("sizes", _sizes, params=("flight_dir",), inputs=_flight_files),
        Stage("total", _total, after=("sizes",)),
    ]
)


def process_flight(job: FlightJob, config_toml: str) -> dict[str, Any]:
    """Run the two-stage pipeline on one flight folder; fails on a folder named 'bad'."""
    cfg = load_config_text(config_toml, source="job")
    if Path(job.flight_dir).name == "bad":
        raise ValueError(f"{job.flight_dir}: no telemetry")
    res = PIPE.run(job.run_dir, config=cfg, params={"flight_dir": job.flight_dir}, progress=False)
    total = int((Path(job.run_dir) / "stages" / "total" / "total.txt").read_text())
    return {
        "total": total,
        "statuses": [r.status for r in res],
        "pid": os.getpid(),
        "seed": cfg.general.seed,
    }
