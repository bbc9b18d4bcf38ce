"""One typed configuration tree, loaded from TOML.

The tree is a set of frozen dataclasses; every field has a default and a ``help`` text in its
metadata. :func:`load_config` reads a TOML file over the defaults: an unknown key or a value of
the wrong type is a :class:`ConfigError` that names the key and the file. :func:`to_toml`
writes a config back as TOML with each field's help as a comment; the documented example file
``survey/data/config.example.toml`` is exactly ``to_toml(Config())`` (a test keeps it so).

Other packages (``missions``) describe their own sections with dataclasses and load them with
:func:`load_section`, so the loader and its error messages are the same everywhere.

Examples
--------
>>> cfg = load_config_text('[general]\\nseed = 7\\n', source="inline")
>>> cfg.general.seed
7
>>> load_config_text('[general]\\nsed = 7\\n', source="my.toml")
Traceback (most recent call last):
...
survey.config_fields.ConfigError: my.toml, general.sed: unknown key; known keys: device, seed, threads
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from survey.config_fields import ConfigError, load_section, opt, section, to_toml
from thermal.leak_params import LeakDetectorParams

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (the Jetson's JetPack 6): the same parser from PyPI
    import tomli as tomllib

__all__ = [
    "Config",
    "ConfigError",
    "GeneralConfig",
    "TelemetryConfig",
    "NotifyConfig",
    "PipelineConfig",
    "PredictConfig",
    "ProcessConfig",
    "ReportConfig",
    "ReviewConfig",
    "SeverityConfig",
    "StoreConfig",
    "EXAMPLE_CONFIG",
    "load_config",
    "load_config_text",
    "load_section",
    "to_toml",
]

EXAMPLE_CONFIG = Path(__file__).parent / "data" / "config.example.toml"


@dataclass(frozen=True)
class GeneralConfig:
    """Settings that apply to every command."""

    seed: int = opt(0, "Seed for every random choice (splits, sampling, simulation).")
    threads: int = opt(0, "CPU threads for numeric work and inference; 0 = all cores.", ge=0)
    device: Literal["auto", "cpu", "cuda"] = opt(
        "auto", "Where models run: auto (CUDA when present, else CPU), cpu or cuda."
    )


@dataclass(frozen=True)
class TelemetryConfig:
    """Flight-log reading: interpolation limits, GNSS sanity filters and clock synchronisation."""

    max_gap_s: float = opt(
        2.0,
        "Longest gap between usable pose samples that is interpolated across (s); frames in a\n"
        "longer gap are marked unlocatable with the reason.",
        gt=0,
    )
    max_extrapolation_s: float = opt(
        0.5,
        "How far before the first / after the last sample a frame may still take its pose (s).",
        ge=0,
    )
    max_speed_mps: float = opt(
        40.0,
        "Fastest plausible ground speed (m/s); a position jump implying more is flagged as a GNSS\n"
        "glitch (not dropped) and not interpolated through.",
        gt=0,
    )
    max_vertical_speed_mps: float = opt(
        15.0,
        "Fastest plausible climb or descent (m/s); faster altitude jumps are flagged as spikes.",
        gt=0,
    )
    position_tolerance_m: float = opt(
        10.0,
        "GNSS noise and coordinate rounding allowed on top of max_speed_mps before a jump counts\n"
        "as a glitch (m); DJI SRTs round to 1e-4 degrees, about 11 m.",
        ge=0,
    )
    altitude_tolerance_m: float = opt(
        5.0, "Altitude noise allowed on top of max_vertical_speed_mps before a jump is a spike (m)."
    )
    min_fix_type: int = opt(
        2, "Lowest GNSS fix type whose positions are used (0-1 none, 2 = 2D, 3 = 3D, 4+ DGPS/RTK)."
    )
    event_match_tolerance_s: float = opt(
        1.5,
        "When matching photos to camera trigger events: largest residual (s) for a pair to count\n"
        "as matched once the clock offset is known (photo clocks often have 1 s resolution).",
    )
    max_clock_offset_s: float = opt(
        93600.0,
        "Largest camera-to-log clock offset searched (s); the default covers every time zone.",
    )


@dataclass(frozen=True)
class SeverityConfig:
    """Advisory severity 1-5 and recommended actions (docs/domain.md proposal; all configurable)."""

    levels: list[str] = opt(
        [],
        'Base level per class over the built-in table, as "class=N" (N 1..5), e.g.\n'
        '["vegetation=3"]. Unknown classes get 3.',
    )
    leak_dt_high_k: float = opt(
        3.0, "Leak candidate is severity 4 from this thermal contrast (K)..."
    )
    leak_area_high_m2: float = opt(2.0, "... together with at least this area (m2).")
    leak_dt_mid_k: float = opt(1.0, "Leak candidate is severity 3 from this contrast (K), else 2.")
    fastener_cluster_n: int = opt(
        3, "Missing fasteners rise to severity 4 when this many lie on one side within ..."
    )
    fastener_cluster_m: float = opt(10.0, "... this length of chainage (m).")
    actions_rail: list[str] = opt(
        [
            "Record only",
            "Monitor",
            "Act within weeks",
            "Act within 24-72 h",
            "Block the line or impose an emergency speed restriction now",
        ],
        "Recommended action for rail defects of severity 1..5 (advisory).",
    )
    actions_pipeline: list[str] = opt(
        [
            "Record only",
            "Re-check next survey",
            "Verify this season",
            "Verify within a week",
            "Dispatch now",
        ],
        "Recommended action for pipeline / district-heating findings of severity 1..5.",
    )


@dataclass(frozen=True)
class PipelineConfig:
    """The stage runner of `survey process` and its scale-out over many flights."""

    hash_mode: Literal["quick", "full"] = opt(
        "quick",
        "How input files are fingerprinted to decide whether a stage can be skipped: quick =\n"
        "size, mtime and SHA-256 of the first and last MiB; full = SHA-256 of every byte.",
    )
    workers: int = opt(
        0, "Flights processed at once by the local process pool; 0 = CPU cores.", ge=0
    )
    scheduler: str = opt(
        "",
        "Dask distributed scheduler (tcp://host:8786) for many flights; empty = local pool.",
    )
    progress: bool = opt(True, "Show a progress bar per stage.")


@dataclass(frozen=True)
class StoreConfig:
    """Where defects, detections and review decisions are kept."""

    url: str = opt(
        "",
        "Empty: a GeoPackage per run (RUN_DIR/defects.gpkg); or postgresql://user@host/db\n"
        "for PostGIS (the password comes from PGPASSWORD or ~/.pgpass, never from here).",
    )
    schema: str = opt("survey", "PostGIS schema holding the tables (created when missing).")


@dataclass(frozen=True)
class ReviewConfig:
    """`survey review`: the local review web app."""

    host: str = opt("127.0.0.1", "Address to bind; keep 127.0.0.1 unless behind a proxy.")
    port: int = opt(8765, "TCP port (0 = any free port).", ge=0, le=65535)
    reviewer: str = opt("", "Reviewer name saved with each decision; empty = the login name.")


@dataclass(frozen=True)
class ReportConfig:
    """The HTML/PDF report and its statistics."""

    bin_m: float = opt(1000.0, "Length of the chainage bins of the per-kilometre table (m).")
    thumbnail_px: int = opt(160, "Longest side of the evidence thumbnails in the report (px).")
    max_thumbnails: int = opt(200, "Most defects shown with thumbnails (highest severity first).")
    min_gap_m: float = opt(5.0, "Coverage gaps shorter than this are not listed (m).")


@dataclass(frozen=True)
class NotifyConfig:
    """Webhook notification of critical defects when a run is stored."""

    webhook_url: str = opt("", "POST a JSON message here for critical defects; empty = off.")
    min_severity: int = opt(5, "Notify defects of at least this severity.")
    secret_env: str = opt(
        "SURVEY_WEBHOOK_SECRET",
        "Environment variable holding the HMAC-SHA256 key that signs each message\n"
        "(header X-Survey-Signature); unset = unsigned.",
    )
    timeout_s: float = opt(10.0, "Timeout of one POST (s).")
    retries: int = opt(3, "Attempts per message before giving up (with back-off).")


@dataclass(frozen=True)
class PredictConfig:
    """Defect segmentation of images: the model suite and crack measurement (`survey predict`)."""

    models: list[str] = opt(
        ["default"],
        "The model suite: shipped names ('default' = the crack model), model files or run\n"
        "folders. Semantic models for thin/linear classes, Mask R-CNN for compact ones.",
    )
    linear_classes: list[str] = opt(
        ["crack"], "Classes measured and graded as cracks (width and length severity)."
    )
    min_area_px: int = opt(10, "Crack parts smaller than this many pixels are dropped.")
    join_gap_px: int = opt(3, "Crack parts closer than this many pixels form one instance.")
    crack_width_mm: list[float] = opt(
        [0.3, 1.3, 3.0, 10.0],
        "Crack severity: upper width limits (mm) of levels 1..4; wider is 5 (AASHTO MBEI\n"
        "condition states 0.3 / 1.3 mm, extended; advisory).",
    )
    crack_length_m: list[float] = opt(
        [1.0], "Each of these lengths (m) a crack reaches raises its severity by one (max 5)."
    )
    crack_width_measure: Literal["max", "mean"] = opt(
        "max", "Which crack width is graded: the widest point or the mean width."
    )
    tta: Literal["", "none", "flip", "d4"] = opt(
        "",
        "Test-time augmentation of semantic models: flip (4 passes), d4 (8), none; empty = the\n"
        "mode the model file was tuned with (its threshold belongs to that mode).",
    )


@dataclass(frozen=True)
class ProcessConfig:
    """`survey process`: a flight folder to located defects (stages, selection, fusion)."""

    # asset and chainage
    asset_by: str = opt(
        "auto",
        "How routes are built from the asset file: auto (a line that states chainage_start_m,\n"
        "as survey simulate writes, keeps its own measure; else ways joined by connectivity),\n"
        "ref, name or connectivity.",
    )
    asset_value: str = opt("", "Only ways whose ref/name is this (e.g. '110 01'); empty = all.")
    chainage_start_m: float = opt(
        0.0, "Chainage at the start of a route whose file states none (m)."
    )
    chainage_towards: Literal["", "north", "south", "east", "west"] = opt(
        "", "Chainage increases toward this compass direction; empty = as the line is drawn."
    )
    chainage_style: Literal["m", "km", "mc", "mcy"] = opt(
        "km", "Chainage labels: m, km (12+345.6), mc (miles-chains) or mcy (with yards)."
    )
    corridor_half_width_m: float = opt(
        0.0,
        "Half-width of the analysed corridor around the asset line (m); 0 = 6 m for rail\n"
        "(track bed, cess and drains), 15 m for pipelines (the right of way).",
    )
    max_offset_m: float = opt(
        25.0, "Findings farther than this from the asset line are off-asset (no chainage)."
    )
    # poses
    log: str = opt(
        "",
        "Reference flight log, relative to the flight folder; empty = the log with the most\n"
        "usable positions (attitude and gimbal channels break ties).",
    )
    pose_source: Literal["auto", "log", "media"] = opt(
        "auto",
        "Where frame poses come from: log (the reference log, camera clocks tied to it), media\n"
        "(SRT / EXIF / XMP of the files themselves), auto (log when there is one).",
    )
    ground: str = opt("flat", "Ground surface: flat (at take-off height) or a DEM GeoTIFF path.")
    dem_vertical: Literal["msl", "ellipsoid"] = opt("msl", "Vertical datum of the DEM.")
    height: Literal["auto", "relative", "absolute"] = opt(
        "auto",
        "Camera height used on flat ground: relative (barometric, above take-off) or absolute\n"
        "(GNSS); auto = relative on flat ground, absolute with a DEM.",
    )
    # cameras
    video_camera: str = opt(
        "auto",
        "Video intrinsics: auto (a still of the same camera in the folder, read out as video:\n"
        "full width, centred crop; else the SRT's 35 mm focal length), or the path of an image\n"
        "whose EXIF/XMP describe the same lens.",
    )
    thermal_hfov_deg: float = opt(
        0.0, "Horizontal field of view of the thermal camera; 0 = from the files."
    )
    # frame selection
    rgb_min_views: int = opt(
        1, "Each point of the corridor is analysed in at least this many RGB frames."
    )
    thermal_min_views: int = opt(2, "... and in at least this many thermal frames.")
    station_step_m: float = opt(0.5, "Spacing of the coverage stations along the asset (m).")
    edge_margin_px: int = opt(
        24, "Frame border (px) not counted as coverage: a defect cut by it is seen whole nearby."
    )
    max_gsd_rgb_m: float = opt(0.04, "RGB frames coarser than this (m/px) are not analysed.")
    max_gsd_thermal_m: float = opt(0.15, "Thermal frames coarser than this are not analysed.")
    max_range_m: float = opt(
        120.0, "Ground beyond this slant range is not used (oblique frames, horizon) (m)."
    )
    min_gain_m: float = opt(
        1.0, "A frame is selected only when it adds at least this much corridor coverage (m)."
    )
    roi_margin_m: float = opt(1.0, "Detection tiles cover the corridor grown by this margin (m).")
    # detection
    models: list[str] = opt(
        ["auto"],
        "RGB model suite (shipped names, model files, run folders; 'none' = no RGB detection;\n"
        "empty = [predict] models); auto = the shipped model that knows the asset kind's\n"
        "defects (rail: 'rail'), else none.",
    )
    score_threshold: float = opt(0.0, "Detection score threshold; 0 = each model's own.")
    detect_gsd_m: float = opt(
        0.0,
        "Frames finer than this ground sample distance (m/px) are resampled to it before\n"
        "detection (the scale the models were trained at); 0 = the GSD the model files state\n"
        "(meta gsd_m), else native resolution.",
    )
    queue_frames: int = opt(
        4, "Decoded frames waiting for the model (bounded queue: memory stays flat)."
    )
    save_frames: Literal["all", "detections", "none"] = opt(
        "all",
        "Keep analysed RGB frames as JPEG in the run (all, only those with detections, none);\n"
        "review, evidence of thermal findings and COCO export use them.",
    )
    jpeg_quality: int = opt(90, "JPEG quality of saved frames and evidence crops.")
    # thermal
    thermal_class: str = opt(
        "auto",
        "Class of thermal anomalies; auto = leak_candidate (pipelines), thermal_anomaly (rail).",
    )
    thermal_corridor_m: float = opt(
        0.0,
        "Half-width of the strip thermal anomalies must lie in (m); 0 = 5 m over a pipeline\n"
        "(leaks show on the pipe's route; vehicles and roofs beside it do not count), the\n"
        "whole corridor along a railway.",
    )
    emissivity: float = opt(0.95, "Emissivity of the ground surface for temperatures.", gt=0, le=1)
    # uncertainty of a located point (1 sigma)
    gnss_sigma_m: float = opt(
        0.0, "Horizontal GNSS error; 0 = from the fix type (1.5 m standard, 0.03 m RTK)."
    )
    vertical_sigma_m: float = opt(1.0, "Camera height error (barometric / GNSS) (m).")
    yaw_sigma_deg: float = opt(1.5, "Camera heading error (compass, boresight) (deg).")
    tilt_sigma_deg: float = opt(0.7, "Camera pitch / roll error (deg).")
    ground_sigma_m: float = opt(0.3, "Ground height error (flat-ground assumption, DEM) (m).")
    pixel_sigma_px: float = opt(2.0, "Image point error (outline, centroid) (px).")
    # fusion
    gate_p: float = opt(
        0.99, "Sightings of one class merge when their positions agree at this probability."
    )
    max_merge_m: float = opt(
        4.0, "Sightings farther apart than this never merge, whatever their ellipses (m)."
    )
    min_sightings: int = opt(1, "Defects seen in fewer frames than this are dropped.")
    min_thermal_views: int = opt(
        2,
        "A thermal anomaly whose ground this many selected thermal frames saw must be seen in "
        "at least this many of them; fewer (a single-frame blip) is rejected with the reason "
        "kept in fuse.json (0 = off).",
    )
    crop_px: int = opt(256, "Smallest side of an evidence crop (px).")
    # imagery layer (the run's frames draped on the ground as offline map tiles)
    imagery: Literal["rgb+thermal", "rgb", "thermal", "none"] = opt(
        "rgb+thermal",
        "Draped imagery layers to build (stages/imagery): the selected RGB frames, the thermal\n"
        "frames in false colour, both, or none. map.html and survey review show them offline.",
    )
    imagery_max_zoom: int = opt(
        23, "Finest web-map zoom of the imagery tiles (z22 is ~2.5 cm/px at 48 deg latitude)."
    )
    imagery_min_gsd_m: float = opt(
        0.0, "Imagery tiles no finer than this (m/px); 0 = the frames' median GSD decides."
    )
    imagery_cache_tiles: int = opt(
        256, "Finest-level tiles held in memory while painting (the rest wait on disk)."
    )
    # outputs
    exports: list[str] = opt(
        ["geojson"], "Extra GIS exports written into RUN_DIR/exports (gpkg is the store)."
    )
    map: bool = opt(True, "Write RUN_DIR/map.html (opens offline).")
    basemap: str = opt("osm", "Map background: osm (online tiles, optional), a URL, or ''.")
    report: bool = opt(True, "Write RUN_DIR/report.html.")
    pdf: bool = opt(False, "Also print the report to RUN_DIR/report.pdf (needs Chromium).")
    leaks: LeakDetectorParams = section(
        LeakDetectorParams,
        "Leak and hotspot detector of thermal frames (thermal.detect_anomalies).",
    )


@dataclass(frozen=True)
class Config:
    """The root of the configuration tree (one TOML table per section)."""

    general: GeneralConfig = section(GeneralConfig, "Settings for every command.")
    telemetry: TelemetryConfig = section(
        TelemetryConfig, "Flight logs: interpolation limits, GNSS sanity filters, clock sync."
    )
    severity: SeverityConfig = section(SeverityConfig, "Advisory severity and actions.")
    pipeline: PipelineConfig = section(PipelineConfig, "Stage runner and many-flight processing.")
    store: StoreConfig = section(StoreConfig, "Defect store: GeoPackage per run or PostGIS.")
    review: ReviewConfig = section(ReviewConfig, "The review web app.")
    report: ReportConfig = section(ReportConfig, "The HTML/PDF report.")
    notify: NotifyConfig = section(NotifyConfig, "Webhook for critical defects.")
    predict: PredictConfig = section(
        PredictConfig, "Defect segmentation models and crack measurement."
    )
    process: ProcessConfig = section(
        ProcessConfig, "survey process: flight folder to located defects."
    )


# ---------------------------------------------------------------------------------------------
# loading


def load_config(path: str | Path | None = None) -> Config:
    """Load ``path`` (TOML) over the defaults; ``None`` gives the defaults."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror}", path=p) from exc
    except UnicodeDecodeError as exc:
        line = p.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); TOML files are UTF-8",
            path=p,
            where=f"line {line}",
        ) from exc
    return load_config_text(text, source=str(p))


def load_config_text(text: str, *, source: str = "<string>") -> Config:
    """Parse TOML ``text`` into a :class:`Config`; ``source`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=source) from exc
    return load_section(Config, data, source=source)
