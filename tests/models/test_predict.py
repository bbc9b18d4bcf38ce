"""``survey predict``: mask PNGs and instance JSON per image, skipped files, model suites."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from models.semseg.config import build_semseg_model, crack_semseg_cfg
from models.semseg.predict import save_model_file
from survey.cli import cli


def _model_file(path: Path, classes: tuple[str, ...]) -> Path:
    torch.manual_seed(0)
    cfg = crack_semseg_cfg(
        classes=classes,
        channels=32,
        overrides=["SURVEY.TILE.SIZE", "64", "SURVEY.TILE.OVERLAP", "16"],
    )
    model = build_semseg_model(cfg)
    return save_model_file(path, cfg, model.state_dict(), {"thresholds": [0.5] * len(classes)})


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("models")
    return {
        "one": _model_file(d / "one.pth", ("crack",)),
        "two": _model_file(d / "two.pth", ("crack", "spall")),
    }


@pytest.fixture()
def images(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    cv2.imwrite(str(d / "a.png"), rng.integers(0, 255, (100, 150, 3), dtype=np.uint8))
    cv2.imwrite(str(d / "b.jpg"), rng.integers(0, 255, (70, 90, 3), dtype=np.uint8))
    cv2.imwrite(str(d / "sub" / "c.png"), rng.integers(0, 255, (40, 50), dtype=np.uint8))
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)  # a truncated PNG
    return d


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["predict", *args], catch_exceptions=False)


def _png(path: Path) -> np.ndarray:
    m = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert m is not None, path
    return m


def test_folder_of_images_with_a_broken_one(
    images: Path, tmp_path: Path, models_dir: dict[str, Path]
) -> None:
    out = tmp_path / "out"
    r = _run(str(images), "-m", str(models_dir["one"]), "-o", str(out), "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["images"] == 2 and summary["skipped"] == 1
    assert summary["skipped_files"][0]["path"].endswith("broken.png")
    assert "broken.png" in r.stderr and "skipped" in r.stderr
    for stem, hw in (("a", (100, 150)), ("b", (70, 90))):
        m = _png(out / f"{stem}.png")
        assert m.shape == hw and m.dtype == np.uint8 and set(np.unique(m)) <= {0, 255}
        doc = json.loads((out / f"{stem}.json").read_text())
        assert (doc["width"], doc["height"]) == hw[::-1] and doc["classes"] == ["crack"]
        assert doc["counts"]["crack"] == len(doc["instances"])
        # instances are the connected parts of the written mask (>= 10 px, gaps < 3 px joined)
        assert sum(i["area_px"] for i in doc["instances"]) <= int((m == 255).sum())
    assert not (out / "c.png").exists() and not (out / "sub").exists()  # not recursive
    assert not (out / "a.crack.png").exists()  # one class: only the union
    assert json.loads((out / "predict_summary.json").read_text())["images"] == 2


def test_test_time_augmentation_option(
    images: Path, tmp_path: Path, models_dir: dict[str, Path]
) -> None:
    """--tta picks the mode (the summary records it with the thresholds); a bad mode is refused.
    (That the transforms are undone correctly is tested in test_semseg_model.)"""
    outs = {}
    for mode in ("none", "flip"):
        out = tmp_path / mode
        r = _run(str(images / "a.png"), "-m", str(models_dir["one"]), "-o", str(out), "--tta", mode)
        assert r.exit_code == 0, r.output
        summary = json.loads((out / "predict_summary.json").read_text())
        assert summary["models"][0]["tta"] == mode and summary["models"][0]["thresholds"] == [0.5]
        outs[mode] = _png(out / "a.png")
    assert outs["none"].shape == outs["flip"].shape == (100, 150)
    r = CliRunner().invoke(
        cli, ["predict", str(images / "a.png"), "-m", str(models_dir["one"]), "-o",
              str(tmp_path / "x"), "--tta", "rot45"],
    )  # fmt: skip
    assert r.exit_code == 2 and "rot45" in r.output


def test_threshold_zero_marks_everything_and_gsd_gives_mm(
    images: Path, tmp_path: Path, models_dir: dict[str, Path]
) -> None:
    out = tmp_path / "out"
    r = _run(
        str(images / "a.png"),
        "-m",
        str(models_dir["one"]),
        "-o",
        str(out),
        "--threshold",
        "0",
        "--gsd-mm",
        "2",
    )
    assert r.exit_code == 0, r.output
    assert (_png(out / "a.png") == 255).all()
    doc = json.loads((out / "a.json").read_text())
    (inst,) = doc["instances"]
    assert inst["area_px"] == 100 * 150 and inst["score"] > 0
    assert inst["area_m2"] == pytest.approx(100 * 150 * 0.002**2)
    assert inst["max_width_mm"] == pytest.approx(inst["max_width_px"] * 2)
    assert inst["severity"] in (1, 2, 3, 4, 5) and doc["gsd_mm"] == 2.0


def test_several_classes_write_one_png_each_and_the_union(
    images: Path, tmp_path: Path, models_dir: dict[str, Path]
) -> None:
    out = tmp_path / "out"
    r = _run(str(images), "-r", "-m", str(models_dir["two"]), "-o", str(out), "--threshold", "0.5")
    assert r.exit_code == 0, r.output
    for stem in ("a", "b", "sub/c"):
        crack, spall = _png(out / f"{stem}.crack.png"), _png(out / f"{stem}.spall.png")
        union = _png(out / f"{stem}.png")
        assert np.array_equal(union, np.maximum(crack, spall))
    doc = json.loads((out / "sub" / "c.json").read_text())
    assert doc["classes"] == ["crack", "spall"] and (doc["width"], doc["height"]) == (50, 40)


def test_suite_of_two_models_merges_classes(
    images: Path, tmp_path: Path, models_dir: dict[str, Path]
) -> None:
    out = tmp_path / "out"
    r = _run(
        str(images / "b.jpg"),
        "-m",
        str(models_dir["one"]),
        "-m",
        str(models_dir["two"]),
        "-o",
        str(out),
    )
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "b.json").read_text())
    assert doc["classes"] == ["crack", "spall"] and len(doc["models"]) == 2
    assert {i["model"] for i in doc["instances"]} <= set(doc["models"])


def test_usage_errors(images: Path, tmp_path: Path, models_dir: dict[str, Path]) -> None:
    other = tmp_path / "other"
    other.mkdir()
    cv2.imwrite(str(other / "a.png"), np.zeros((5, 5, 3), np.uint8))
    r = _run(
        str(images / "a.png"),
        str(other / "a.png"),
        "-m",
        str(models_dir["one"]),
        "-o",
        str(tmp_path / "o"),
    )
    assert r.exit_code == 2 and "would both write a.png" in r.output
    r = CliRunner().invoke(
        cli, ["predict", str(images / "a.png"), "-m", "no-such-model", "-o", str(tmp_path / "o")]
    )
    assert r.exit_code != 0 and "no such model" in str(r.exception or r.output)
    r = _run(str(images / "broken.png"), "-m", str(models_dir["one"]), "-o", str(tmp_path / "o2"))
    assert r.exit_code == 1 and "none of the 1 image(s) could be read" in r.output
    r = _run(
        str(images / "a.png"),
        "-m",
        str(models_dir["one"]),
        "-o",
        str(tmp_path / "o3"),
        "--gsd-mm",
        "-1",
    )
    assert r.exit_code == 2 and "--gsd-mm" in r.output
    r = _run(
        str(images / "a.png"),
        "-m",
        str(models_dir["one"]),
        "-o",
        str(tmp_path / "o3"),
        "--threshold",
        "1.5",
    )
    assert r.exit_code == 2 and "--threshold" in r.output


def test_mask_rcnn_run_and_crack_model_as_one_suite(
    images: Path, tmp_path: Path, models_dir: dict[str, Path]
) -> None:
    """An instance model (a Mask R-CNN run of the engine) works in `survey predict`, alone and
    beside the semantic model; its detections become instances with outline, length and width."""
    from models.semseg.synthetic import write_crack_dataset
    from models.training.engine import new_run_config, train

    root = write_crack_dataset(tmp_path / "data", 4, seed=3, size=96)
    cfg = new_run_config(
        "mask_rcnn_R18_FPN_jetson",
        [f"{root}:train"],
        overrides=[
            "SOLVER.IMS_PER_BATCH", "1",
            "SURVEY.AUG.CROP_SIZE", "96",
            "SURVEY.THREADS", "1",
            "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0",
            "TEST.DETECTIONS_PER_IMAGE", "5",
        ],
        max_iter=1,
    )  # fmt: skip
    run = tmp_path / "rcnn"
    train(cfg, run, progress=False)
    out = tmp_path / "out"
    r = _run(
        str(images / "b.jpg"),
        "-m",
        str(run),
        "-m",
        str(models_dir["two"]),
        "-o",
        str(out),
        "--threshold",
        "0",
    )
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "b.json").read_text())
    kinds = {
        m["spec"]: m["kind"]
        for m in json.loads((out / "predict_summary.json").read_text())["models"]
    }
    assert kinds == {str(run): "instance", str(models_dir["two"]): "semantic"}
    assert doc["classes"] == ["crack", "spall"]
    rcnn = [i for i in doc["instances"] if i["model"] == str(run)]
    assert 1 <= len(rcnn) <= 5
    for inst in rcnn:
        assert inst["class"] == "crack" and 0.0 <= inst["score"] <= 1.0
        assert len(inst["polygon"]) >= 3 and inst["length_px"] > 0 and inst["max_width_px"] >= 1
        x0, y0, x1, y1 = inst["bbox_xyxy"]
        assert 0 <= x0 < x1 <= 90 and 0 <= y0 < y1 <= 70
    # the instance model alone: its masks are the union PNG
    r = _run(
        str(images / "b.jpg"), "-m", str(run), "-o", str(tmp_path / "alone"), "--threshold", "0"
    )
    assert r.exit_code == 0, r.output
    alone = _png(tmp_path / "alone" / "b.png")
    assert alone.shape == (70, 90) and (alone == 255).any()


def _drone_jpeg(path: Path, pitch_deg: float, rel_alt_m: float = 50.0) -> Path:
    """A JPEG with the DJI XMP tags a nadir GSD needs (focal length 1760 px)."""
    from PIL import Image

    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "TestMake", "TESTCAM-1"
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" '
        f'drone-dji:RelativeAltitude="+{rel_alt_m:.2f}" drone-dji:GimbalPitchDegree="{pitch_deg:+.1f}" '
        'drone-dji:CalibratedFocalLength="1760.0" drone-dji:CalibratedOpticalCenterX="40.0" '
        'drone-dji:CalibratedOpticalCenterY="30.0" '
        'drone-dji:GimbalYawDegree="+0.0" drone-dji:GimbalRollDegree="+0.0"/></rdf:RDF></x:xmpmeta>'
    )
    img.save(path, exif=exif, comment=xmp.encode())
    return path


def test_gsd_auto_from_exif_and_xmp(tmp_path: Path, models_dir: dict[str, Path]) -> None:
    from survey.cli_predict import gsd_from_metadata

    nadir = _drone_jpeg(tmp_path / "nadir.jpg", -90.0)
    tilted = _drone_jpeg(tmp_path / "tilted.jpg", -80.0)
    oblique = _drone_jpeg(tmp_path / "oblique.jpg", -45.0)
    g, why = gsd_from_metadata(nadir)
    assert g == pytest.approx(50.0 / 1760.0 * 1000.0, rel=1e-3) and "50 m" in why  # 28.4 mm/px
    g10, _ = gsd_from_metadata(tilted)
    assert g10 == pytest.approx(g / np.cos(np.radians(10.0)), rel=1e-3)
    assert gsd_from_metadata(oblique) == (
        None,
        "oblique view (gimbal pitch -45 deg): no single GSD",
    )
    out = tmp_path / "out"
    r = _run(
        str(nadir),
        str(oblique),
        "-m",
        str(models_dir["one"]),
        "-o",
        str(out),
        "--gsd-mm",
        "auto",
        "--threshold",
        "0",
    )
    assert r.exit_code == 0, r.output
    a, b = (
        json.loads((out / "nadir.json").read_text()),
        json.loads((out / "oblique.json").read_text()),
    )
    assert a["gsd_mm"] == pytest.approx(g, rel=1e-3) and a["instances"][0]["length_m"] is not None
    assert (
        b["gsd_mm"] is None
        and b["gsd_source"].startswith("oblique")
        and b["instances"][0]["severity"] is None
    )
    r = _run(str(nadir), "-m", str(models_dir["one"]), "-o", str(out), "--gsd-mm", "big")
    assert r.exit_code == 2 and "'auto'" in r.output
