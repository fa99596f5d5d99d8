"""Fit geometry and box mapping, against expectations computed another way."""

import numpy as np
import pytest

from builder.geometry import clip_boxes, fit_geometry, original_boxes, source_to_edges, tiny_boxes
from tests.expected import expected_tiny_box


@pytest.mark.parametrize("fit_mode", ["crop", "pad", "squash"])
@pytest.mark.parametrize("source_size", [(500, 375), (333, 500), (64, 64), (1000, 101)])
@pytest.mark.parametrize("target_size", [(8, 8), (32, 32), (48, 32)])
def test_tiny_boxes_match_independent_computation(fit_mode, source_size, target_size):
    w, h = source_size
    boxes = [(0, 0, w - 1, h - 1), (w // 4, h // 3, w // 2, h - 1), (w // 2, 0, w - 1, h // 5)]
    fit = fit_geometry(source_size, target_size, fit_mode)
    got = tiny_boxes(fit, boxes)
    expected = np.array([expected_tiny_box(b, source_size, target_size, fit_mode) for b in boxes])
    expected = expected[(expected[:, 2] > expected[:, 0]) & (expected[:, 3] > expected[:, 1])]
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_whole_image_box_fills_the_tiny_image_when_cropped_or_squashed():
    for fit_mode in ("crop", "squash"):
        fit = fit_geometry((500, 375), (32, 32), fit_mode)
        np.testing.assert_allclose(tiny_boxes(fit, [(0, 0, 499, 374)]), [[0, 0, 32, 32]])


def test_pad_centres_on_whole_pixels():
    fit = fit_geometry((500, 375), (32, 32), "pad")
    assert fit.target_region == (0.0, 4.0, 32.0, 28.0)  # 500x375 -> 32x24, 4 black rows above and below
    assert fit.source_region == (0.0, 0.0, 500.0, 375.0)


def test_crop_takes_the_centre():
    fit = fit_geometry((500, 375), (32, 32), "crop")
    assert fit.source_region == (62.5, 0.0, 437.5, 375.0)


def test_box_outside_the_crop_is_left_out_and_others_clipped():
    fit = fit_geometry((500, 100), (10, 10), "crop")  # keeps x in [200, 300)
    got = tiny_boxes(fit, [(0, 0, 99, 99), (150, 10, 249, 89)])
    np.testing.assert_allclose(got, [[0, 1, 5, 9]])


@pytest.mark.parametrize("fit_mode", ["crop", "pad", "squash"])
def test_round_trip_lands_within_one_original_pixel(fit_mode):
    rng = np.random.default_rng(0)
    for _ in range(200):
        w, h = (int(v) for v in rng.integers(20, 2000, size=2))
        W, H = (int(v) for v in rng.choice([8, 16, 32, 64], size=2))
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        box = (x0, y0, int(rng.integers(x0, w)), int(rng.integers(y0, h)))
        fit = fit_geometry((w, h), (W, H), fit_mode)
        unclipped = fit.to_target(source_to_edges([box]))
        inside = np.all(clip_boxes(unclipped, (W, H)) == unclipped) if len(clip_boxes(unclipped, (W, H))) else False
        if not inside:
            continue
        back = original_boxes(fit, tiny_boxes(fit, [box]).astype(np.float32))  # float32 as stored
        assert np.all(np.abs(np.round(back) - box) <= 1), (box, back, fit)


def test_invalid_inputs_are_errors():
    with pytest.raises(ValueError, match="fit mode"):
        fit_geometry((10, 10), (8, 8), "stretch")
    with pytest.raises(ValueError, match="positive"):
        fit_geometry((0, 10), (8, 8), "crop")
