"""Shared survey fixtures: a realistic stored run along the real Tullnerfelder Bahn (review, report
and export tests)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def template_run(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A run folder (evidence crops, frames, defects.gpkg) built once; copy it before changing it."""
    from survey.defects import Review
    from survey.defects.sample import osm_way, sample_run
    from survey.store import RunInfo, open_store

    line, _ = osm_way(shared_data / "geometry" / "railway_osm" / "Sankt_Poelten_railways.geojson")
    run_dir = tmp_path_factory.mktemp("template") / "run-110"
    sample = sample_run(line, asset_id="110 01", run_id="run-110", run_dir=run_dir)
    with open_store(None, run_dir=run_dir) as st:
        st.write_run(
            RunInfo(
                "run-110",
                asset_id="110 01",
                asset_length_m=sample.length_m,
                flight="/data/flight-7",
            )
        )
        st.write_defects(sample.defects)
        st.write_detections(sample.detections)
        st.write_layer("route", sample.route)
        st.write_layer("coverage", sample.coverage)
        for did, dec, sev in (
            ("D0001", "confirmed", 0),
            ("D0002", "rejected", 0),
            ("D0005", "confirmed", 3),
            ("D0006", "needs_revisit", 0),
        ):
            st.record_review(
                Review(
                    defect_id=did,
                    decision=dec,
                    reviewer="eva",
                    decided_t_s=1.71e9,
                    comment=f"{dec} on site",
                    severity=sev,
                )
            )
    return run_dir, sample


@pytest.fixture
def run(template_run: tuple[Path, Any], tmp_path: Path) -> tuple[Path, Any]:
    """A private copy of the template run (tests may review and export into it)."""
    src, sample = template_run
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    return dst, sample
