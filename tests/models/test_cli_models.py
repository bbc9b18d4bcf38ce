"""The model commands end to end: dataset check, train (+ resume), evaluate, compare."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from survey.cli import cli


def _run(args: list[str]) -> object:
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    return r


def test_dataset_check_json(d2_squares: dict) -> None:
    r = _run(["dataset", "check", str(d2_squares["train"]), "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    n = sum(len(s) for s in d2_squares["train_truth"])
    assert (
        rep["format"] == "coco"
        and rep["images"] == 8
        and rep["per_class"]["spall"]["instances"] == n
    )
    assert sum(p["images"] for p in rep["split"]["parts"].values()) == 8


def test_train_resume_evaluate_compare(tmp_path: Path, d2_squares: dict, d2_overrides) -> None:
    out = tmp_path / "run"
    sets: list[str] = []
    ov = d2_overrides()
    for k, v in zip(ov[::2], ov[1::2], strict=True):
        sets += ["--set", k, v]
    args = [
        "train",
        "--dataset",
        str(d2_squares["train"]),
        "--val",
        str(d2_squares["val"]),
        "--preset",
        "mask_rcnn_R18_FPN_jetson",
        "--out",
        str(out),
        "--max-iter",
        "2",
        "--threads",
        "1",
        "--no-progress",
        *sets,
    ]
    r = _run(args)
    assert r.exit_code == 0, r.output
    assert "iterations 0..2" in r.output and (out / "model_final.pth").is_file()
    r = _run(args)  # same --out without --resume: refused, nothing lost
    assert r.exit_code != 0 and "--resume" in r.output
    r = _run(["train", "--out", str(out), "--resume", "--max-iter", "3", "--no-progress"])
    assert r.exit_code == 0 and "iterations 2..3" in r.output, r.output
    r = _run(["evaluate", str(out), "--json", "--out", str(tmp_path / "ev.json")])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    n_val = sum(len(s) for s in d2_squares["val_truth"])
    assert rep["n_images"] == 3 and rep["n_gt"] == n_val and "AP" in rep["bbox"]
    assert json.loads((tmp_path / "ev.json").read_text())["n_gt"] == n_val
    r = _run(["compare", str(out), str(out), "--json"])
    assert r.exit_code == 0, r.output
    comp = json.loads(r.output)
    assert all(row["delta"] in (0, None) for row in comp["rows"])
    r = _run(["train", "--list-presets"])
    assert "mask_rcnn_R18_FPN_jetson" in r.output
