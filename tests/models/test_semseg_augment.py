"""Crack-aware cropping and aerial augmentation keep image and label aligned and thin cracks alive."""

from __future__ import annotations

import numpy as np
import pytest

from models.semseg.augment import (
    IGNORE,
    AugmentParams,
    augment_pair,
    crop_around_defects,
    photometric,
    rescale,
)
from models.semseg.synthetic import crack_pair


@pytest.mark.parametrize("scale", [0.5, 0.75, 0.9])
def test_shrinking_keeps_one_pixel_cracks(scale: float) -> None:
    lab = np.zeros((100, 100), np.uint8)
    idx = np.arange(100)
    lab[idx, idx] = 1  # 1-px diagonal crack: nearest-neighbour shrinking breaks it
    _, small = rescale(np.zeros((100, 100, 3), np.uint8), lab, scale)
    n = small.shape[0]
    # every row of the shrunk crack still has a crack pixel: the crack stays connected
    assert (small == 1).any(axis=1)[1:-1].all()
    assert small.shape == (round(100 * scale), round(100 * scale)) == (n, n)


def test_enlarging_is_nearest_for_labels() -> None:
    lab = np.array([[0, 1], [255, 0]], np.uint8)
    _, big = rescale(np.zeros((2, 2, 3), np.uint8), lab, 2.0)
    assert set(np.unique(big)) == {0, 1, 255}


def test_defect_crops_contain_defects_and_small_images_are_padded() -> None:
    rng = np.random.default_rng(0)
    lab = np.zeros((300, 300), np.uint8)
    lab[250, 240:260] = 1
    img = np.zeros((300, 300, 3), np.uint8)
    hits = [crop_around_defects(img, lab, 64, rng, 1.0)[1].any() for _ in range(50)]
    assert all(hits)
    _, small = crop_around_defects(img[:40, :30], lab[:40, :30], 64, rng, 0.0)
    assert (
        small.shape == (64, 64) and (small[40:] == IGNORE).all() and (small[:, 30:] == IGNORE).all()
    )


def test_augmented_pairs_stay_aligned_and_are_reproducible() -> None:
    p = AugmentParams(crop_px=64)
    for seed in range(20):
        img, mask = crack_pair(np.random.default_rng(seed), 96)
        a_img, a_lab = augment_pair(img, mask.astype(np.uint8), p, np.random.default_rng([7, seed]))
        b_img, b_lab = augment_pair(img, mask.astype(np.uint8), p, np.random.default_rng([7, seed]))
        assert np.array_equal(a_img, b_img) and np.array_equal(a_lab, b_lab)
        assert a_img.shape == (64, 64, 3) and a_img.dtype == np.uint8 and a_lab.shape == (64, 64)
        crack = a_lab == 1
        if crack.sum() > 20:
            # the crack is dark in the source: after any flip/rotation/lighting it still is
            g = a_img.mean(axis=2)
            assert g[crack].mean() < g[(a_lab == 0)].mean() - 15


def test_params_from_the_preset() -> None:
    from models.semseg.config import crack_semseg_cfg

    p = AugmentParams.from_cfg(crack_semseg_cfg())
    assert p.crop_px == 256 and p.defect_crop_prob == 0.8 and p.brightness == (0.75, 1.25)
    assert p.rot90 and p.hflip and p.vflip and p.jpeg_prob == 0.3


def test_photometric_changes_pixels_not_shape() -> None:
    img = np.full((32, 32, 3), 128, np.uint8)
    out = photometric(img, AugmentParams(), np.random.default_rng(3))
    assert out.shape == img.shape and out.dtype == np.uint8 and not np.array_equal(out, img)
    same = photometric(
        img,
        AugmentParams(
            brightness=(1.0, 1.0),
            contrast=(1.0, 1.0),
            gamma=0,
            saturation=(1.0, 1.0),
            blur_prob=0,
            noise_std=0,
            jpeg_prob=0,
            shadow_prob=0,
        ),
        np.random.default_rng(3),
    )
    assert np.array_equal(same, img)
