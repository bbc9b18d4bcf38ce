"""Photo EXIF/XMP reader against exiftool dumps and ODM's per-image pose table."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from survey.telemetry.errors import TelemetryFormatError
from survey.telemetry.photos import parse_dms, photos_to_track, read_photo, read_photos


def _utc(text: str) -> float:
    # numpy reads any number of fractional digits (Python 3.10's fromisoformat only 3 or 6)
    return float(np.datetime64(text, "us").astype(np.int64)) / 1e6


def _exiftool_dump(path: Path) -> dict[str, str]:
    text = path.read_bytes().decode("utf-16")
    out: dict[str, str] = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep and k.strip() not in out:
            out[k.strip()] = v.strip()
    return out


@pytest.mark.parametrize("name", ["DJI_H20T", "DJI_XT2"])
def test_dji_xmp_against_exiftool(shared_data: Path, name: str) -> None:
    folder = shared_data / "thermal" / "dji_rjpeg"
    ref = _exiftool_dump(folder / f"{name}.exiftool.txt")
    m = read_photo(folder / f"{name}.jpg")
    lat = parse_dms(ref["GPS Latitude"].replace("deg", "deg"))
    lon = parse_dms(ref["GPS Longitude"])
    # exiftool prints seconds to 0.01": half of that is 1.4e-6 degrees
    assert m.lat_deg == pytest.approx(lat, abs=1.4e-6) and m.lon_deg == pytest.approx(
        lon, abs=1.4e-6
    )
    if "Absolute Altitude" in ref:
        assert m.alt_m == pytest.approx(float(ref["Absolute Altitude"]))
        assert m.rel_alt_m == pytest.approx(float(ref["Relative Altitude"]))
    assert m.gimbal_yaw_deg == pytest.approx(float(ref["Gimbal Yaw Degree"]))
    assert m.gimbal_pitch_deg == pytest.approx(float(ref["Gimbal Pitch Degree"]))
    assert m.yaw_deg == pytest.approx(float(ref["Flight Yaw Degree"]))
    dto = ref["Date/Time Original"]
    assert m.t_s == pytest.approx(_utc(dto[:10].replace(":", "-") + "T" + dto[11:19]), abs=1.0)


def test_survey_strip_with_time_zone(shared_data: Path) -> None:
    folder = shared_data / "thermal" / "dji_rjpeg" / "H20T_survey_leipzig"
    tr = read_photos(sorted(folder.glob("*.JPG")), source=str(folder))
    # xmp:CreateDate="2022-06-02T14:35:32+02:00": the camera clock states its zone
    assert tr.time_base == "utc" and tr.t_s[0] == _utc("2022-06-02T12:35:32")
    # exiftool: 51 deg 21' 58.07" N, 12 deg 18' 32.22" E, 252.475 m; gimbal pitch -90
    assert tr.lat_deg[0] == pytest.approx(51 + 21 / 60 + 58.07 / 3600, abs=1.4e-6)
    assert tr.lon_deg[0] == pytest.approx(12 + 18 / 60 + 32.22 / 3600, abs=1.4e-6)
    assert tr.alt_m[0] == 252.475 and tr.alt_ref == "msl" and tr.rel_alt_m[0] == 94.992
    assert tr.gimbal_mode == "absolute" and tr.gimbal_pitch_deg.tolist()[:3] == [
        -90.0,
        -90.0,
        -90.0,
    ]
    assert tr.extra["file"].tolist() == sorted(p.name for p in folder.glob("*.JPG"))
    assert any("1 s resolution" in w for w in tr.warnings)


def test_p4rtk_tiffs_against_odm_table(shared_data: Path) -> None:
    folder = shared_data / "drone_imagery" / "odm_p4rtk_taiwan"
    with (folder / "odm_lla_rpy.csv").open() as fh:
        rows = {r["filename"]: r for r in csv.DictReader(fh, delimiter=" ")}
    for name, r in rows.items():
        m = read_photo(folder / "images" / name)
        assert m.lat_deg == pytest.approx(float(r["latitude"]), abs=1e-8)
        assert m.lon_deg == pytest.approx(float(r["longitude"]), abs=1e-8)
        assert m.alt_m == pytest.approx(float(r["altitude"]))
        assert m.gimbal_yaw_deg == pytest.approx(float(r["yaw"]))
        # exiftool: CalibratedFocalLength 3666.666504, DewarpData 2018-09-07;3657.02,...
        assert m.calibrated_focal_px == pytest.approx(3666.666504)
        assert (m.calibrated_cx_px, m.calibrated_cy_px) == (2736.0, 1824.0)
        assert (
            m.dewarp_date == "2018-09-07"
            and len(m.dewarp) == 9
            and m.dewarp[4] == pytest.approx(-0.267098)
        )
        # GDAL TIFF: EXIF as text; the camera wrote 5472 x 3648, the file is 1368 x 912
        assert (m.exif_width_px, m.width_px) == (5472, 1368)
    m = read_photo(folder / "images" / "100_0005_0018.tif")
    assert m.rtk_std_m == pytest.approx((0.00935, 0.00970, 0.02382))  # RtkStdLat/Lon/Hgt
    assert m.t_s == _utc("2019-04-11T11:01:21") and m.time_base == "local"


def test_plain_exif_gps(tele: Path) -> None:
    m = read_photo(tele / "geotag" / "GPS.jpg")
    # exiftool -n: GPSLatitude 54.9896666666667 N, GPSLongitude 1.91416666666667 W
    assert m.lat_deg == pytest.approx(54.9896666666667) and m.lon_deg == pytest.approx(
        -1.91416666666667
    )
    assert m.t_s == _utc("2002-07-13T15:58:28") and m.model == "FinePixS1Pro"


def test_photo_errors(tmp_path: Path) -> None:
    p = tmp_path / "broken.jpg"
    p.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 20)
    with pytest.raises(TelemetryFormatError, match=r"broken\.jpg: not a readable JPEG/TIFF image"):
        read_photo(p)
    with pytest.raises(TelemetryFormatError, match="no photos given"):
        photos_to_track([])


def test_parse_dms_forms() -> None:
    assert parse_dms("8 deg 17' 39.30\" S") == pytest.approx(-8.29425)
    assert parse_dms("115 deg 27' 42.59\" E") == pytest.approx(115.46183056, abs=1e-8)
    assert parse_dms("-8.294") == -8.294 and parse_dms("12.5", "W") == -12.5
    assert np.isnan(parse_dms("north")) and re.match("nan", str(parse_dms(None)))
