"""Checkpoint items: atomic writes, damaged items named, discarded and recomputed (issue #15)."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path

import pytest

from survey.pipeline import Pipeline, Stage, StageContext
from survey.pipeline.items import MISSING, item_ok, read_item, write_item


def test_round_trip_and_no_temp_file_left(tmp_path: Path) -> None:
    p = tmp_path / "a.pkl"
    write_item(p, {"row": 3, "anomalies": [1.5]})
    assert read_item(p) == {"row": 3, "anomalies": [1.5]}
    write_item(p, None)  # None is a result, not "missing"
    assert read_item(p) is None and item_ok(p)
    assert [q.name for q in tmp_path.iterdir()] == ["a.pkl"]


@pytest.mark.parametrize("cut", [3, 20, 45, -1])
def test_truncated_item_is_named_discarded_and_missing(
    tmp_path: Path, cut: int, caplog: pytest.LogCaptureFixture
) -> None:
    p = tmp_path / "t1_7.pkl"
    write_item(p, list(range(100)))
    p.write_bytes(p.read_bytes()[:cut])
    with caplog.at_level(logging.WARNING):
        assert read_item(p) is MISSING
    assert str(p) in caplog.text and "recomputed" in caplog.text
    assert not p.exists()


def test_flipped_byte_fails_the_checksum(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "x.pkl"
    write_item(p, "hello" * 50)
    b = bytearray(p.read_bytes())
    b[-10] ^= 1
    p.write_bytes(b)
    with caplog.at_level(logging.WARNING):
        assert read_item(p) is MISSING
    assert "checksum mismatch" in caplog.text


def test_old_plain_pickles_still_load_and_a_cut_one_is_discarded(tmp_path: Path) -> None:
    p = tmp_path / "old.pkl"
    p.write_bytes(pickle.dumps({"a": 1}))
    assert read_item(p) == {"a": 1}
    p.write_bytes(pickle.dumps(list(range(1000)))[:50])
    assert read_item(p) is MISSING and not p.exists()


def test_a_damaged_item_of_an_interrupted_stage_is_recomputed(tmp_path: Path) -> None:
    calls: list[int] = []
    stop_at: list[int | None] = [4]  # outside the stage's fingerprint

    def scale(ctx: StageContext) -> None:
        def one(i: int) -> int:
            calls.append(i)
            if stop_at[0] == i:
                raise KeyboardInterrupt
            return 10 * i

        out = ctx.map(range(6), one, key=lambda i: f"{i:04d}")
        (ctx.out / "out.json").write_text(json.dumps(out))

    pipe = Pipeline([Stage("scale", scale)])
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        pipe.run(run, params={}, progress=False)
    items = sorted((run / "stages" / "scale.partial" / "items").glob("*.pkl"))
    assert len(items) == 4
    items[1].write_bytes(items[1].read_bytes()[:10])  # a checkpoint cut short (disk full)
    calls.clear()
    stop_at[0] = None
    res = pipe.run(run, params={}, progress=False)
    assert res[0].status == "ran" and res[0].resumed_items == 3
    assert calls == [1, 4, 5]
    assert json.loads((run / "stages" / "scale" / "out.json").read_text()) == [
        0,
        10,
        20,
        30,
        40,
        50,
    ]
