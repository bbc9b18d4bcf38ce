"""Streaming selected frames: the right frames, in order, with long jumps sought; failures named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from survey.process import frames as fr
from survey.process.frames import FrameReader, Prefetch


class _Poses:
    """The few StreamPoses fields the reader uses."""

    def __init__(self, files: list[str], frame: np.ndarray, kind: str = "video") -> None:
        self.files = tuple(files)
        self.frame = frame
        self.file_index = np.zeros(frame.size, np.int32)
        self.kind = kind


def _video(path: Path, n: int) -> None:
    import cv2

    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (64, 48))
    for i in range(n):
        img = np.zeros((48, 64, 3), np.uint8)
        img[:, :32] = 12 * (i % 20)  # the frame number as two grey levels
        img[:, 32:] = 12 * (i // 20)
        w.write(img)
    w.release()


def _number(img: np.ndarray) -> int:
    a = round(float(img[8:40, 4:28].mean()) / 12)
    b = round(float(img[8:40, 36:60].mean()) / 12)
    return int(a + 20 * b)


@pytest.mark.parametrize("seek_gap", [10_000, 40])
def test_reads_exactly_the_selected_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seek_gap: int
) -> None:
    _video(tmp_path / "v.mp4", 400)
    monkeypatch.setattr(fr, "SEEK_GAP", seek_gap)  # 40: the jumps below seek
    rows = np.array([350, 3, 4, 120, 399, 200])
    sp = _Poses(["v.mp4"], np.arange(400))
    reader = FrameReader(tmp_path, sp, rows)
    got = [(r, _number(img)) for r, img in Prefetch(reader, 2)]
    assert [r for r, _ in got] == sorted(rows.tolist())
    assert [n for _, n in got] == sorted(rows.tolist())
    assert reader.failures == {}


def test_a_video_that_ends_early_fails_the_rest_with_the_frame_number(tmp_path: Path) -> None:
    _video(tmp_path / "v.mp4", 50)
    sp = _Poses(["v.mp4"], np.arange(80))  # the poses claim 80 frames
    reader = FrameReader(tmp_path, sp, np.array([10, 49, 60, 79]))
    got = dict(Prefetch(reader, 2))
    assert got[10] is not None and got[49] is not None and got[60] is None and got[79] is None
    assert set(reader.failures) == {60, 79}
    assert (
        "v.mp4: the video ends or is corrupt at frame 50 (frame 60 wanted)" in reader.failures[60]
    )


def test_prefetch_hands_a_reader_error_to_the_consumer() -> None:
    def broken():
        yield 1
        raise OSError("disk gone")

    it = iter(Prefetch(broken(), 1))
    assert next(it) == 1
    with pytest.raises(OSError, match="disk gone"):
        next(it)


def test_unreadable_still_is_a_named_failure(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"not a jpeg")
    sp = _Poses(["a.jpg"], np.array([-1]), kind="still")
    reader = FrameReader(tmp_path, sp, np.array([0]))
    assert list(reader) == [(0, None)]
    assert "a.jpg: unreadable or corrupt image" in reader.failures[0]
