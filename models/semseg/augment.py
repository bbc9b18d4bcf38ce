"""Crack-aware cropping and aerial augmentation, on numpy arrays (no torch).

Labels are ``uint8`` maps of class ids (0 background, 1.. defects, 255 ignored). Every function
takes an explicit ``numpy.random.Generator`` so a training batch is a pure function of the seed.

Thin defects need care: a crack 1-2 px wide vanishes under nearest-neighbour downscaling, so
:func:`rescale` marks a low-resolution pixel as a defect when at least a quarter of its area was
one. Crops are centred on a random defect pixel with probability ``defect_crop_prob`` (cracks
are ~1 % of the pixels; uniform crops would mostly show bare concrete).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

__all__ = ["AugmentParams", "augment_pair", "crop_around_defects", "photometric", "rescale"]

IGNORE = 255


@dataclass(frozen=True)
class AugmentParams:
    """Augmentation settings (``SURVEY.AUG.*`` and ``SURVEY.CRACK.*`` of the preset).

    ``brightness``, ``contrast`` and ``saturation`` are ``(lo, hi)`` factor ranges (1 = unchanged).
    """

    crop_px: int = 256
    defect_crop_prob: float = 0.8
    scale_min: float = 0.75
    scale_max: float = 1.33
    rot90: bool = True
    hflip: bool = True
    vflip: bool = True
    brightness: tuple[float, float] = (0.75, 1.25)
    contrast: tuple[float, float] = (0.7, 1.3)
    saturation: tuple[float, float] = (0.7, 1.3)
    gamma: float = 0.3
    blur_prob: float = 0.2
    noise_std: float = 6.0
    jpeg_prob: float = 0.3
    shadow_prob: float = 0.2

    @classmethod
    def from_cfg(cls, cfg: Any) -> AugmentParams:
        """Read ``SURVEY.AUG`` and ``SURVEY.CRACK`` of a config."""
        a, c = cfg.SURVEY.AUG, cfg.SURVEY.CRACK
        return cls(
            crop_px=int(a.CROP_SIZE),
            defect_crop_prob=float(a.CROP_FOCUS),
            scale_min=float(a.SCALE[0]),
            scale_max=float(a.SCALE[1]),
            rot90=bool(a.ROT90),
            hflip=bool(a.HFLIP),
            vflip=bool(a.VFLIP),
            brightness=(float(a.BRIGHTNESS[0]), float(a.BRIGHTNESS[1])),
            contrast=(float(a.CONTRAST[0]), float(a.CONTRAST[1])),
            saturation=(float(a.SATURATION[0]), float(a.SATURATION[1])),
            gamma=float(c.GAMMA),
            blur_prob=float(c.BLUR_PROB),
            noise_std=float(c.NOISE_STD),
            jpeg_prob=float(c.JPEG_PROB),
            shadow_prob=float(c.SHADOW_PROB),
        )


def rescale(img: np.ndarray, lab: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Resize image and label map by ``scale``, keeping thin defects when shrinking.

    Examples
    --------
    >>> import numpy as np
    >>> lab = np.zeros((8, 8), np.uint8); lab[:, 3] = 1      # a 1-px vertical crack
    >>> _, small = rescale(np.zeros((8, 8, 3), np.uint8), lab, 0.5)
    >>> small.shape, int((small == 1).any(axis=0).sum()), bool((small == 1).all(axis=0).any())
    ((4, 4), 1, True)
    """
    if abs(scale - 1.0) < 1e-3:
        return img, lab
    h, w = lab.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    shrink = scale < 1.0
    img2 = cv2.resize(img, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    lab2 = cv2.resize(lab, size, interpolation=cv2.INTER_NEAREST)
    if shrink:
        for c in np.unique(lab):
            if c == 0 or c == IGNORE:
                continue
            frac = cv2.resize((lab == c).astype(np.float32), size, interpolation=cv2.INTER_AREA)
            lab2[frac >= 0.25] = c
    return img2, lab2


def crop_around_defects(
    img: np.ndarray, lab: np.ndarray, size: int, rng: np.random.Generator, defect_prob: float
) -> tuple[np.ndarray, np.ndarray]:
    """A ``size`` x ``size`` crop, centred near a random defect pixel with ``defect_prob``.

    Images smaller than ``size`` are padded (image by reflection, label with IGNORE).
    """
    h, w = lab.shape
    ph, pw = max(0, size - h), max(0, size - w)
    if ph or pw:
        img = cv2.copyMakeBorder(img, 0, ph, 0, pw, cv2.BORDER_REFLECT_101)
        lab = cv2.copyMakeBorder(lab, 0, ph, 0, pw, cv2.BORDER_CONSTANT, value=IGNORE)
        h, w = lab.shape
    fg = np.flatnonzero((lab > 0) & (lab != IGNORE))
    if fg.size and rng.random() < defect_prob:
        cy, cx = divmod(int(fg[rng.integers(fg.size)]), w)
        jitter = rng.integers(-size // 3, size // 3 + 1, size=2)
        y0, x0 = cy + int(jitter[0]) - size // 2, cx + int(jitter[1]) - size // 2
    else:
        y0, x0 = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    y0, x0 = min(max(y0, 0), h - size), min(max(x0, 0), w - size)
    return img[y0 : y0 + size, x0 : x0 + size], lab[y0 : y0 + size, x0 : x0 + size]


def _shadow(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Multiply by a soft dark band at a random angle (a shadow of a structure or the drone)."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, np.pi)
    d = (xx - rng.uniform(0, w)) * np.cos(ang) + (yy - rng.uniform(0, h)) * np.sin(ang)
    half = rng.uniform(0.1, 0.5) * max(h, w)
    soft = max(2.0, 0.2 * half)
    band = np.clip((half - np.abs(d)) / soft, 0.0, 1.0)
    f = 1.0 - band * rng.uniform(0.25, 0.55)
    return img * f[..., None]


def photometric(img: np.ndarray, p: AugmentParams, rng: np.random.Generator) -> np.ndarray:
    """Lighting, colour, blur, noise and JPEG changes of a BGR uint8 image (label unchanged)."""
    x: np.ndarray = img.astype(np.float32)
    if p.shadow_prob > 0 and rng.random() < p.shadow_prob:
        x = _shadow(x, rng)
    if p.saturation != (1.0, 1.0):
        grey = x.mean(axis=2, keepdims=True)
        x = grey + (x - grey) * rng.uniform(*p.saturation)
    if p.contrast != (1.0, 1.0):
        mean = float(x.mean())
        x = mean + (x - mean) * rng.uniform(*p.contrast)
    if p.brightness != (1.0, 1.0):
        x = x * rng.uniform(*p.brightness)
    x = np.clip(x, 0, 255)
    if p.gamma > 0:
        x = 255.0 * (x / 255.0) ** np.exp(rng.uniform(-p.gamma, p.gamma))
    if p.blur_prob > 0 and rng.random() < p.blur_prob:
        if rng.random() < 0.5:
            x = cv2.GaussianBlur(x, (0, 0), sigmaX=rng.uniform(0.4, 1.2))
        else:  # linear motion blur along a random direction
            k = int(rng.integers(3, 8))
            line = np.zeros((k, k), np.float32)
            line[k // 2, :] = 1.0 / k
            rot = cv2.getRotationMatrix2D(((k - 1) / 2, (k - 1) / 2), rng.uniform(0, 180), 1.0)
            ker = np.asarray(cv2.warpAffine(line, rot, (k, k)), np.float32)
            x = cv2.filter2D(x, -1, ker / max(float(ker.sum()), 1e-6))
    if p.noise_std > 0:
        x = x + rng.normal(0.0, rng.uniform(0, p.noise_std), size=x.shape).astype(np.float32)
    out = np.clip(x + 0.5, 0, 255).astype(np.uint8)
    if p.jpeg_prob > 0 and rng.random() < p.jpeg_prob:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 91))])
        dec = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
        if dec is not None:
            out = np.asarray(dec, np.uint8)
    return out


def augment_pair(
    img: np.ndarray, lab: np.ndarray, p: AugmentParams, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Scale, crack-aware crop, 90° rotations and flips, then photometric changes."""
    if p.scale_max > p.scale_min or abs(p.scale_min - 1.0) > 1e-3:
        s = float(np.exp(rng.uniform(np.log(p.scale_min), np.log(p.scale_max))))
        img, lab = rescale(img, lab, s)
    img, lab = crop_around_defects(img, lab, p.crop_px, rng, p.defect_crop_prob)
    if p.rot90:
        k = int(rng.integers(4))
        img, lab = np.rot90(img, k), np.rot90(lab, k)
    if p.hflip and rng.random() < 0.5:
        img, lab = img[:, ::-1], lab[:, ::-1]
    if p.vflip and rng.random() < 0.5:
        img, lab = img[::-1], lab[::-1]
    img = photometric(np.ascontiguousarray(img), p, rng)
    return img, np.ascontiguousarray(lab)
