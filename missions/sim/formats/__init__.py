"""Writers of the real file formats a survey flight produces (DJI video subtitles and photos,
MAVLink telemetry logs, CSV flight logs) and of the simulator's ground truth (COCO, GeoPackage,
CSV, JSON)."""
