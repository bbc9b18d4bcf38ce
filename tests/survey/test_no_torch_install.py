"""The core install (no torch, no detectron2): `survey process` of a thermal flight works, the
RGB models are skipped with one warning naming the extra, and a named model says which extra to
install. Runs in a process where torch and detectron2 cannot be imported (and in the onboard
venvs of scripts/test_onboard_python.sh, where they are not installed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CODE = """
import sys, json, logging, dataclasses
class _NoTorch:  # as if not installed (a None in sys.modules would confuse scipy)
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "detectron2"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _NoTorch())
logging.basicConfig(level=logging.WARNING, stream=sys.stdout)
from missions.sim.config import SimConfig
from missions.sim.simulate import simulate_flight
from survey.config import Config
from survey.process.pipeline import process_flight
from survey.process.rgb_models import DetectionModelError
base = sys.argv[1]
simulate_flight(SimConfig(asset="pipeline", start_m=1100.0, length_m=60.0, seed=5, video="",
                          stills_every_m=0.0, thermal_every_s=1.0, defect_density=3.0),
                base + "/flight")
c = Config()
cfg = dataclasses.replace(c, pipeline=dataclasses.replace(c.pipeline, progress=False),
                          process=dataclasses.replace(c.process, exports=["csv"]))
res = process_flight(base + "/flight", base + "/run", config=cfg)
print("STAGES", json.dumps({r.name: r.status for r in res}))
named = dataclasses.replace(cfg, process=dataclasses.replace(cfg.process, models=["rail"]))
try:
    process_flight(base + "/flight", base + "/run2", config=named)
except DetectionModelError as exc:
    print("NAMED", exc)
print("TORCH", "torch" in sys.modules)
"""


def test_thermal_flight_without_torch(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-c", CODE, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout
    stages = json.loads(out.split("STAGES ", 1)[1].splitlines()[0])
    assert stages["report"] == "ran" and stages["thermal"] == "ran"
    assert "no RGB defect detection: the RGB models need the 'models' extra" in out
    assert "NAMED [process] models = ['rail']: the RGB models need the 'models' extra" in out
    assert "TORCH False" in out
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["defects"] >= 1  # the simulated leaks, found without any RGB model
    assert (tmp_path / "run" / "report.html").is_file()
