"""``survey simulate`` and ``survey demo``, the training-set mode, reproducibility, and the
configuration file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pycocotools.coco import COCO

from missions.cli import simulate
from missions.errors import SimulationError
from missions.sim.config import SimConfig, load_sim_config
from missions.sim.simulate import simulate_flight

TINY = [
    "--length-m",
    "30",
    "--video",
    "none",
    "--stills-every-m",
    "15",
    "--still-size",
    "400x300",
    "--thermal-every-s",
    "4",
    "--density",
    "3",
]


def test_simulate_command_json(tmp_path: Path) -> None:
    out = tmp_path / "f"
    r = CliRunner().invoke(
        simulate, [*TINY, "--seed", "3", "--gnss", "rtk", "--out", str(out), "--json"]
    )
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["frames"] == {"rgb_video": 0, "rgb_still": 3, "thermal": 3}
    assert "DCIM" in summary["files"] and "FLIR" in summary["files"]
    sc = json.loads((out / "truth" / "scenario.json").read_text())
    assert (
        sc["config"]["gnss"] == "rtk" and sc["error_model"]["realized"]["gnss_h_sigma_m"] == 0.015
    )
    # running again into the same folder needs --overwrite
    r2 = CliRunner().invoke(simulate, [*TINY, "--out", str(out)])
    assert r2.exit_code == 1 and "not empty (use --overwrite)" in r2.output


def test_cli_errors_are_one_clear_line(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "survey", "simulate"]
    r = subprocess.run(
        [*cmd, "--length-m", "9000", "--out", str(tmp_path / "x")], capture_output=True, text=True
    )
    assert r.returncode == 1
    assert (
        "longer than the line (4468.9 m in EPSG:32633)" in r.stderr
        and "railway_tullnerfelder_bahn" in r.stderr
    )
    r = subprocess.run(
        [*cmd, "--video", "1280x720", "--out", str(tmp_path / "x")], capture_output=True, text=True
    )
    assert r.returncode == 1 and "video must look like 1280x720@30" in r.stderr


def test_reproducible_with_a_seed(tmp_path: Path) -> None:
    cfg = SimConfig(
        length_m=30.0,
        video="",
        stills_every_m=15.0,
        still_size="400x300",
        thermal_every_s=4.0,
        seed=21,
        defect_density=3.0,
    )
    simulate_flight(cfg, tmp_path / "a")
    simulate_flight(cfg, tmp_path / "b")
    simulate_flight(SimConfig(**{**cfg.to_dict(), "seed": 22}), tmp_path / "c")
    for name in (
        "truth/frames_rgb_still.csv",
        "truth/trajectory_logged.csv",
        "logs/flight_log.csv",
        "truth/coco_rgb_still.json",
        "logs/flight.tlog",
    ):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes(), name
    from thermal import read_thermal

    ra = read_thermal(tmp_path / "a" / "FLIR" / "IR_00002.jpg").raw
    rb = read_thermal(tmp_path / "b" / "FLIR" / "IR_00002.jpg").raw
    assert np.array_equal(ra, rb)


def test_plan_file(tmp_path: Path) -> None:
    p = tmp_path / "plan.toml"
    p.write_text('[simulate]\nasset = "rail"\nlength_m = 50.0\naltitude_agl_m = 30.0\n')
    cfg = load_sim_config(p, seed=5)
    assert cfg.length_m == 50.0 and cfg.altitude_agl_m == 30.0 and cfg.seed == 5
    p.write_text("[simulate]\nlenght_m = 50.0\n")
    with pytest.raises(SimulationError, match=r"simulate.lenght_m: unknown key") as e:
        load_sim_config(p)
    assert e.value.path == str(p)
    p.write_text('[simulate]\nlength_m = "long"\n')
    with pytest.raises(SimulationError, match="simulate.length_m"):
        load_sim_config(p)
    with pytest.raises(SimulationError, match="nothing to record"):
        SimConfig(video="", stills_every_m=0, thermal_every_s=0).resolved()


def test_dataset_mode(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    r = CliRunner().invoke(
        simulate,
        [
            "--dataset",
            "4",
            "--size",
            "320x240",
            "--seed",
            "2",
            "--asset",
            "rail",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    coco = COCO(str(out / "annotations.json"))
    assert len(coco.getImgIds()) == 4 and len(list((out / "images").glob("*.jpg"))) == 4
    anns = coco.loadAnns(coco.getAnnIds())
    assert anns and all(a["area"] >= 12 for a in anns)
    names = {c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert "missing_fastener" in names and "leak_candidate" not in names  # rgb band only
    summary = json.loads((out / "dataset.json").read_text())
    assert summary["images"] == 4 and sum(summary["per_class"].values()) == len(anns)


def test_thermal_dataset(tmp_path: Path) -> None:
    from missions.sim.dataset import DatasetSpec, make_dataset
    from thermal import read_thermal

    line = tmp_path / "line.geojson"
    line.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {
                            "type": "LineString",
                            "coordinates": [[15.60, 48.20], [15.63, 48.21]],
                        },
                    }
                ],
            }
        )
    )
    s = make_dataset(
        DatasetSpec(n_images=3, seed=4, band="thermal", assets=("pipeline",), geometry=str(line)),
        tmp_path / "th",
    )
    coco = COCO(str(tmp_path / "th" / "annotations.json"))
    names = {c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert names == {"leak_candidate", "insulation_loss", "false_positive"}
    fr = read_thermal(tmp_path / "th" / coco.loadImgs(1)[0]["file_name"])
    assert fr.raw.shape == (512, 640) and s["band"] == "thermal"


@pytest.mark.slow
def test_demo(tmp_path: Path) -> None:
    """``survey demo`` simulates its flights with this simulator and processes them."""
    from missions.cli import demo

    r = CliRunner().invoke(demo, ["--out", str(tmp_path / "demo")])
    assert r.exit_code == 0, r.output
    assert "survey demo finished" in r.output
    for kind in ("rail", "pipeline"):
        flight = tmp_path / "demo" / "flights" / kind
        assert (flight / "truth" / "defects.gpkg").is_file() and (
            flight / "asset.geojson"
        ).is_file()
