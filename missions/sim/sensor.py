"""What the sensors add to the optical image: RGB exposure, vignetting, blur and noise; thermal
optics blur, NETD noise and the radiometric chain (temperature and emissivity -> raw counts
through the inverse Planck model of :mod:`thermal.radiometry`).

Radiometry: every pixel's raw count is the camera's forward model for its true surface
temperature and true emissivity, with the scene's reflected (sky) temperature, air temperature,
humidity and distance (``thermal.temperature_to_raw`` with a per-pixel emissivity). The file
stores the *camera settings* (:meth:`ThermalSensor.file_calibration`: one emissivity, 0.95 by
default), so reading it back gives the true temperature where the surface emissivity is 0.95
and the apparent temperature elsewhere (cold-looking polished rail heads), as in real surveys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import cv2
import numpy as np
from numpy.typing import NDArray

from missions.sim.texture import ThermalScene

__all__ = ["RgbSensor", "ThermalSensor"]


class RgbSensor:
    """Vignetting, slowly varying exposure, a slight optical blur and shot/read noise."""

    def __init__(
        self,
        width: int,
        height: int,
        seed: int,
        noise_sigma: float = 2.5,
        blur_sigma_px: float = 0.45,
        vignette: float = 0.22,
    ) -> None:
        self.rng = np.random.default_rng([seed, 0x5E45])
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        r2 = ((xx - width / 2) ** 2 + (yy - height / 2) ** 2) / (
            (width / 2) ** 2 + (height / 2) ** 2
        )
        # vignetting gain as 8-bit (x 255) so the multiply stays in 8 bits; noise patterns as
        # int8 (a 12 MP camera keeps about 150 MB of them instead of 600 MB)
        gain = np.round((1.0 - vignette * r2) * 255.0).astype(np.uint8)
        self._gain = cv2.merge([gain, gain, gain])
        n_patterns = 4 if width * height <= 2_500_000 else 2
        self._noise = [
            np.clip(self.rng.normal(0.0, noise_sigma, (height, width, 3)), -127, 127).astype(
                np.int8
            )
            for _ in range(n_patterns)
        ]
        self.blur = blur_sigma_px
        self._exposure = 1.0

    def apply(self, bgr: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Return the sensor image of the optical image ``bgr``."""
        self._exposure = float(np.clip(self._exposure + self.rng.normal(0, 0.003), 0.93, 1.07))
        img: NDArray[Any] = bgr
        if self.blur > 0:
            img = cv2.GaussianBlur(img, (0, 0), self.blur)
        img = cv2.multiply(img, self._gain, scale=self._exposure / 255.0, dtype=cv2.CV_8U)
        n = self._noise[int(self.rng.integers(len(self._noise)))]
        # a random shift of the pattern (rows) makes each frame's noise different
        k = int(self.rng.integers(n.shape[0]))
        n = np.roll(n, k, axis=0) if k else n
        return cast(NDArray[np.uint8], cv2.add(img, n, dtype=cv2.CV_8U))  # dtype=CV_8U


@dataclass(frozen=True)
class ThermalSettings:
    """The thermal camera's configuration and imperfections."""

    netd_k: float = 0.05
    blur_sigma_px: float = 0.7
    emissivity_setting: float = 0.95
    column_noise_k: float = 0.02


class ThermalSensor:
    """Temperature/emissivity images -> uint16 raw counts of a FLIR radiometric core."""

    def __init__(
        self,
        scene: ThermalScene,
        width: int,
        height: int,
        seed: int,
        settings: ThermalSettings | None = None,
    ) -> None:
        from thermal import PlanckCalibration

        self.scene, self.settings = scene, settings or ThermalSettings()
        self.rng = np.random.default_rng([seed, 0x7E42])
        self.base = PlanckCalibration(
            reflected_temp_c=scene.sky_c,
            atmospheric_temp_c=scene.air_c,
            relative_humidity_pct=scene.humidity_pct,
            emissivity=self.settings.emissivity_setting,
        )
        self._cols = self.rng.normal(0.0, self.settings.column_noise_k, width).astype(np.float32)

    def file_calibration(self, distance_m: float) -> object:
        """The calibration and object parameters the camera writes into each file."""
        return self.base.replace(object_distance_m=float(distance_m))

    def raw(
        self, temp_c: NDArray[np.float32], emissivity: NDArray[np.float32], distance_m: float
    ) -> NDArray[np.uint16]:
        """Raw counts of one frame (optics blur, NETD and column noise included)."""
        from thermal import temperature_to_raw

        cal = self.base.replace(object_distance_m=float(distance_m))
        s = self.settings
        t = (
            temp_c
            + self.rng.normal(0.0, s.netd_k, temp_c.shape).astype(np.float32)
            + self._cols[None, :]
        )
        eps = np.clip(emissivity, 0.02, 1.0)
        raw = temperature_to_raw(t.astype(np.float64), cal, emissivity=eps.astype(np.float64))
        if s.blur_sigma_px > 0:
            raw = cv2.GaussianBlur(raw, (0, 0), s.blur_sigma_px)
        return np.clip(np.round(raw), 0, 65535).astype(np.uint16)
