"""The stage runner: skip when unchanged, --rerun-from, resume after interruption, manifests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from survey.config import Config, GeneralConfig, PipelineConfig, load_config
from survey.pipeline import Pipeline, PipelineError, Stage, StageContext
from survey.pipeline.fingerprint import fingerprint_file


class Calls:
    """Counts how often each stage function really ran."""

    def __init__(self) -> None:
        self.n: dict[str, int] = {}

    def hit(self, name: str) -> None:
        self.n[name] = self.n.get(name, 0) + 1


def make_pipeline(calls: Calls, *, fail_at_item: int | None = None) -> Pipeline:
    def read(ctx: StageContext) -> None:
        calls.hit("read")
        text = Path(ctx.params["log"]).read_text()
        (ctx.out / "values.json").write_text(json.dumps([float(x) for x in text.split()]))

    def scale(ctx: StageContext) -> None:
        calls.hit("scale")
        vals = json.loads((ctx.input("read") / "values.json").read_text())

        def one(i: int) -> float:
            calls.hit("scale_item")
            if fail_at_item is not None and i == fail_at_item:
                raise KeyboardInterrupt  # the operator pressed Ctrl-C here
            return vals[i] * (ctx.config.general.seed + 1)

        out = ctx.map(range(len(vals)), one, key=lambda i: f"{i:04d}", unit="value")
        (ctx.out / "scaled.json").write_text(json.dumps(out))

    def report(ctx: StageContext) -> None:
        calls.hit("report")
        vals = json.loads((ctx.input("scale") / "scaled.json").read_text())
        (ctx.out / "sum.txt").write_text(f"{sum(vals):.1f}")

    return Pipeline(
        [
            Stage("read", read, params=("log",), inputs=lambda p: [p["log"]]),
            Stage("scale", scale, after=("read",), config=("general",)),
            Stage("report", report, after=("scale",), config=("report",)),
        ]
    )


@pytest.fixture
def flight(tmp_path: Path) -> dict[str, Any]:
    log = tmp_path / "flight" / "values.txt"
    log.parent.mkdir()
    log.write_text("1 2 3 4 5 6")
    return {"log": str(log)}


def statuses(results: list[Any]) -> list[str]:
    return [r.status for r in results]


def test_second_run_skips_everything(tmp_path: Path, flight: dict[str, Any]) -> None:
    calls, run = Calls(), tmp_path / "run"
    pipe = make_pipeline(calls)
    assert statuses(pipe.run(run, params=flight, progress=False)) == ["ran"] * 3
    assert (run / "stages" / "report" / "sum.txt").read_text() == "21.0"
    assert statuses(pipe.run(run, params=flight, progress=False)) == ["skipped"] * 3
    assert calls.n == {"read": 1, "scale": 1, "scale_item": 6, "report": 1}
    # the resolved config is saved in the run, and the history in run.json
    assert load_config(run / "config.toml") == Config()
    hist = json.loads((run / "run.json").read_text())
    assert [s["status"] for s in hist["runs"][-1]["stages"]] == ["skipped"] * 3


def test_changed_input_reruns_only_what_depends_on_it(
    tmp_path: Path, flight: dict[str, Any]
) -> None:
    calls, run = Calls(), tmp_path / "run"
    pipe = make_pipeline(calls)
    pipe.run(run, params=flight, progress=False)
    Path(flight["log"]).write_text("1 2 3 4 5 7")
    assert statuses(pipe.run(run, params=flight, progress=False)) == ["ran"] * 3
    assert (run / "stages" / "report" / "sum.txt").read_text() == "22.0"
    # a config section only the last stage reads re-runs only that stage
    cfg = Config(report=Config().report.__class__(bin_m=500.0))
    assert statuses(pipe.run(run, config=cfg, params=flight, progress=False)) == [
        "skipped",
        "skipped",
        "ran",
    ]
    # seed feeds "scale": scale and report run again, read does not
    cfg2 = Config(general=GeneralConfig(seed=1), report=cfg.report)
    assert statuses(pipe.run(run, config=cfg2, params=flight, progress=False)) == [
        "skipped",
        "ran",
        "ran",
    ]
    assert (run / "stages" / "report" / "sum.txt").read_text() == "44.0"


def test_same_bytes_upstream_do_not_force_downstream(
    tmp_path: Path, flight: dict[str, Any]
) -> None:
    calls, run = Calls(), tmp_path / "run"
    pipe = make_pipeline(calls)
    pipe.run(run, params=flight, progress=False)
    os.utime(flight["log"], ns=(1, 1))  # touched: read runs again, writes the same values
    assert statuses(pipe.run(run, params=flight, progress=False)) == ["ran", "skipped", "skipped"]


def test_rerun_from_forces_that_stage_and_later(tmp_path: Path, flight: dict[str, Any]) -> None:
    calls, run = Calls(), tmp_path / "run"
    pipe = make_pipeline(calls)
    pipe.run(run, params=flight, progress=False)
    res = pipe.run(run, params=flight, rerun_from="scale", progress=False)
    assert statuses(res) == ["skipped", "ran", "ran"] and calls.n["scale_item"] == 12
    with pytest.raises(PipelineError, match="no stage 'detect'; stages: read, scale, report"):
        pipe.run(run, params=flight, rerun_from="detect", progress=False)


def test_interrupted_stage_resumes_its_finished_items(
    tmp_path: Path, flight: dict[str, Any]
) -> None:
    calls, run = Calls(), tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        make_pipeline(calls, fail_at_item=4).run(run, params=flight, progress=False)
    assert (run / "stages" / "read" / "stage.json").is_file()  # finished work is kept
    assert not (run / "stages" / "scale").exists()
    assert len(list((run / "stages" / "scale.partial" / "items").glob("*.pkl"))) == 4
    hist = json.loads((run / "run.json").read_text())
    assert hist["runs"][-1]["stages"][0]["error"] == "interrupted"
    calls2 = Calls()
    res = make_pipeline(calls2).run(run, params=flight, progress=False)
    assert statuses(res) == ["skipped", "ran", "ran"]
    assert res[1].resumed_items == 4 and calls2.n["scale_item"] == 2  # only items 4 and 5
    assert (run / "stages" / "report" / "sum.txt").read_text() == "21.0"
    assert not (run / "stages" / "scale.partial").exists()
    assert not (run / "stages" / "scale" / "items").exists()


def test_stale_partial_work_is_discarded(tmp_path: Path, flight: dict[str, Any]) -> None:
    calls, run = Calls(), tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        make_pipeline(calls, fail_at_item=3).run(run, params=flight, progress=False)
    cfg = Config(general=GeneralConfig(seed=2))  # different config: old items are not valid
    res = make_pipeline(Calls()).run(run, config=cfg, params=flight, progress=False)
    assert (
        res[1].resumed_items == 0 and (run / "stages" / "report" / "sum.txt").read_text() == "63.0"
    )


def test_edited_outputs_are_detected(tmp_path: Path, flight: dict[str, Any]) -> None:
    calls, run = Calls(), tmp_path / "run"
    pipe = make_pipeline(calls)
    pipe.run(run, params=flight, progress=False)
    (run / "stages" / "scale" / "scaled.json").write_text("[0]")
    assert statuses(pipe.run(run, params=flight, progress=False)) == ["skipped", "ran", "skipped"]
    assert (run / "stages" / "report" / "sum.txt").read_text() == "21.0"


def test_failing_stage_is_named_and_recorded(tmp_path: Path, flight: dict[str, Any]) -> None:
    from survey.errors import SurveyError

    def bad(ctx: StageContext) -> None:
        raise SurveyError("no GNSS fix in the whole log", path=ctx.params["log"])

    pipe = Pipeline([Stage("poses", bad, params=("log",))])
    with pytest.raises(PipelineError, match=r"stage 'poses' failed: .*values.txt: no GNSS fix"):
        pipe.run(tmp_path / "run", params=flight, progress=False)
    hist = json.loads((tmp_path / "run" / "run.json").read_text())
    assert hist["runs"][-1]["stages"][0]["status"] == "failed"


def test_missing_input_file_is_named(tmp_path: Path) -> None:
    pipe = make_pipeline(Calls())
    with pytest.raises(FileNotFoundError, match="nope.txt: input file is missing"):
        pipe.run(tmp_path / "run", params={"log": str(tmp_path / "nope.txt")}, progress=False)


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([Stage("a", print), Stage("a", print)], "appears twice"),
        ([Stage("b", print, after=("a",)), Stage("a", print)], r"comes after \['a'\]"),
        ([Stage("x y", print)], "invalid stage name"),
    ],
)
def test_ill_formed_pipelines(stages: list[Stage], message: str) -> None:
    with pytest.raises(PipelineError, match=message):
        Pipeline(stages)


def test_undeclared_upstream_and_unknown_config(tmp_path: Path) -> None:
    def sneaky(ctx: StageContext) -> None:
        ctx.input("other")

    with pytest.raises(PipelineError, match="without declaring it in after="):
        Pipeline([Stage("s", sneaky)]).run(tmp_path, progress=False)
    with pytest.raises(PipelineError, match="unknown config section 'detekt'"):
        Pipeline([Stage("s", print, config=("detekt",))]).run(tmp_path, progress=False)


def test_quick_and_full_fingerprints(tmp_path: Path) -> None:
    big = tmp_path / "video.mp4"
    big.write_bytes(bytes(3 << 20))
    quick = fingerprint_file(big, mode="quick", with_mtime=False)
    with big.open("r+b") as fh:  # a change in the middle: quick mode does not read it
        fh.seek(3 << 19)
        fh.write(b"x")
    assert fingerprint_file(big, mode="quick", with_mtime=False) == quick
    full = fingerprint_file(big, mode="full")
    with big.open("r+b") as fh:
        fh.seek(3 << 19)
        fh.write(b"y")
    assert fingerprint_file(big, mode="full") != full
    cfg = Config(pipeline=PipelineConfig(hash_mode="full"))
    assert cfg.pipeline.hash_mode == "full"


def test_pipeline_options_reach_the_config() -> None:
    import click
    from click.testing import CliRunner

    from survey.pipeline.options import apply_pipeline_options, pipeline_options

    seen: dict[str, Any] = {}

    @click.command()
    @pipeline_options
    def process(**kw: Any) -> None:
        seen.update(kw)
        seen["cfg"] = apply_pipeline_options(Config(), **kw)

    res = CliRunner().invoke(
        process,
        [
            "--rerun-from",
            "detect",
            "--scheduler",
            "tcp://10.0.0.5:8786",
            "--no-progress",
            "--store",
            "postgresql://u@db/x",
        ],
    )
    assert res.exit_code == 0, res.output
    assert seen["rerun_from"] == "detect" and seen["until"] is None
    cfg = seen["cfg"]
    assert (cfg.pipeline.scheduler, cfg.pipeline.progress, cfg.store.url) == (
        "tcp://10.0.0.5:8786",
        False,
        "postgresql://u@db/x",
    )
    assert cfg.pipeline.workers == 0  # not given: the config's value
