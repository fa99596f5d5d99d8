"""Expectations computed another way than the code under test computes them, for tests in several modules."""

import numpy as np


def expected_tiny_box(box, source_size, target_size, fit_mode):
    """Scale-then-offset formulation: resize the whole image, then place or cut it (independent of Fit)."""
    (w, h), (W, H) = source_size, target_size
    x0, y0, x1, y1 = box[0], box[1], box[2] + 1, box[3] + 1  # inclusive pixels -> edges
    if fit_mode == "squash":
        sx, sy, ox, oy = W / w, H / h, 0.0, 0.0
    elif fit_mode == "crop":
        s = max(W / w, H / h)
        sx = sy = s
        ox, oy = (W - w * s) / 2, (H - h * s) / 2  # negative: the part cut away
    else:  # pad
        s = min(W / w, H / h)
        inner_w, inner_h = round(w * s), round(h * s)
        sx, sy = inner_w / w, inner_h / h
        ox, oy = (W - inner_w) // 2, (H - inner_h) // 2
    out = np.array([x0 * sx + ox, y0 * sy + oy, x1 * sx + ox, y1 * sy + oy])
    return np.clip(out, 0, [W, H, W, H])
