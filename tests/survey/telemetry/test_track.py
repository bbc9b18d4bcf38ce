"""The PoseTrack record: construction checks, selection, labels."""

from __future__ import annotations

import numpy as np
import pytest

from survey.telemetry.track import CameraEvents, PoseTrack, SampleFlag


def test_build_fills_unknowns_and_checks_shapes() -> None:
    tr = PoseTrack.build([0.0, 1.0], lat_deg=[1.0, 2.0], lon_deg=3.0, sats=[7, 8])
    assert tr.lon_deg.tolist() == [3.0, 3.0] and np.isnan(tr.alt_m).all()
    assert tr.fix_type.tolist() == [-1, -1] and tr.sats.dtype == np.int16
    assert tr.fields_present() == ["lat_deg", "lon_deg", "sats"]
    with pytest.raises(ValueError, match=r"alt_m has shape \(3,\), expected \(2,\)"):
        PoseTrack.build([0.0, 1.0], alt_m=[1, 2, 3])
    with pytest.raises(ValueError, match="say gimbal_mode"):
        PoseTrack.build([0.0], gimbal_pitch_deg=[-90.0])
    with pytest.raises(TypeError, match="unknown pose arrays"):
        PoseTrack.build([0.0], latitude=[1.0])


def test_selection_keeps_extra_and_labels() -> None:
    ev = CameraEvents.build([0.5], image_index=[3])
    tr = PoseTrack.build(
        np.arange(4.0),
        lat_deg=np.arange(4.0),
        lon_deg=0.5,
        time_base="boot",
        alt_ref="msl",
        extra={"frame": np.arange(4)},
        events=ev,
        flags=[0, SampleFlag.SPEED_JUMP, 0, 0],
    )
    sub = tr[tr.lat_deg > 0.5]
    assert sub.extra["frame"].tolist() == [1, 2, 3] and sub.time_base == "boot" and sub.events is ev
    assert sub.position_ok.tolist() == [False, True, True]
    assert tr.flag_counts() == {"speed_jump": 1}
    sh = tr.shifted(10.0, time_base="utc")
    assert sh.t_s[0] == 10.0 and sh.events.t_s[0] == 10.5 and sh.time_base == "utc"  # type: ignore[union-attr]
    assert tr.with_warnings("a", "a").warnings == ("a",)
