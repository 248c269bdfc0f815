"""From the digit's ink to MNIST's convention (20x20 box, centre of mass at the centre of 28x28), and the whole
photo -> MNIST path, ``to_mnist``."""

from __future__ import annotations

import cv2
import numpy as np

from service.preprocessing.digits.components import (has_rival, in_pattern, keep_digit, label_components,
                                                     stroke_width)
from service.preprocessing.digits.ink import border_median, binarize, darkness_and_page, ink_is_dark, shrink, to_gray
from service.preprocessing.digits.rules import remove_rules

MNIST_SIZE = 28
MNIST_BOX = 20
# MNIST's centre of mass sits at pixel (14, 14) (row, column; measured on the test set: 13.99, 14.00).
MNIST_CENTRE = 14.0
# Images up to this size are treated as scans or drawings of one digit, not as photos.
MNIST_STYLE_MAX_SIDE = 64
# Stroke width of an MNIST digit relative to the longer side of its box (about 2.4 px in the 20-pixel box).
STROKE_RATIO = 0.12


def is_mnist_style(gray: np.ndarray) -> bool:
    """True for images already in the MNIST convention: small, dark background, some bright ink."""
    if max(gray.shape) > MNIST_STYLE_MAX_SIDE:
        return False
    return border_median(gray) < 64 and int(gray.max()) > 128


def small_inverted(gray: np.ndarray) -> np.ndarray:
    """A small dark-on-light digit image made white on black, its background (the border's median) at 0.

    Photo cleaning is pointless (and too coarse) at this size; an inverted 28x28 MNIST digit comes back exact.
    """
    ink = 255 - gray.astype(np.int32)
    background = int(border_median(ink.astype(np.uint8)))
    peak = int(ink.max())
    if peak <= background:
        return np.zeros_like(gray)
    ink = ink - background
    if peak - background < 128:  # faint (pencil on grey paper): stretch so the ink reads as ink
        ink = ink * 255 // (peak - background)
    return np.clip(ink, 0, 255).astype(np.uint8)


def crop(mask: np.ndarray) -> np.ndarray:
    """The bounding box of the ink (OpenCV's bounding rectangle of a uint8 mask: 30x cheaper than nonzero)."""
    if mask.dtype == np.uint8 and mask.ndim == 2 and mask.size:
        x, y, w, h = cv2.boundingRect(mask)
        return mask[y : y + h, x : x + w] if w else mask
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return mask
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def normalise_stroke(digit: np.ndarray) -> np.ndarray:
    """Bring the strokes to MNIST's width relative to the digit's size.

    Thin pens are thickened (they would vanish when shrunk to 20 pixels). Bold markers are thinned, unless
    thinning would cut a thin join (the bar of an open 4) or erase a part.
    """
    delta = _widening(digit)
    if delta == 0:
        return digit
    pad = abs(delta) + 1
    padded = cv2.copyMakeBorder(digit, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    kernel = _disc(abs(delta))
    if delta > 0:
        return crop(cv2.dilate(padded, kernel))
    thinned = cv2.erode(padded, kernel)
    if cv2.connectedComponents(thinned)[0] != cv2.connectedComponents(padded)[0]:
        return digit  # thinning would cut a thin join (the bar of an open 4): leave the digit bold
    return crop(thinned)


def thicken_small(digit: np.ndarray) -> np.ndarray:
    """Widen the thin strokes of a small scan or drawing (gray, white on black) to MNIST's relative width.

    A 50-pixel scan of a ballpoint digit has 2-pixel strokes; shrunk to MNIST's 20-pixel box they would be less
    than one pixel wide and grey, which the network reads as another digit (an 8 as a 5). A grey-level dilation
    keeps the scan's anti-aliased edges. Bold strokes are left alone: a small image has too few pixels to thin.
    """
    if not digit.any():
        return digit
    delta = _widening(np.where(digit > int(digit.max()) // 2, 255, 0).astype(np.uint8))
    if delta <= 0:
        return digit
    padded = cv2.copyMakeBorder(digit, delta, delta, delta, delta, cv2.BORDER_CONSTANT, value=0)
    return cv2.dilate(padded, _disc(delta))


def _widening(mask: np.ndarray) -> int:
    """Pixels to add to each side of the strokes (negative: to take off) to reach MNIST's stroke width relative
    to the digit's size; 0 when there are no strokes."""
    width = stroke_width(mask)
    return int(round((STROKE_RATIO * max(mask.shape) - width) / 2)) if width > 0 else 0


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def fit_box(digit: np.ndarray, box: int = MNIST_BOX) -> np.ndarray:
    """Scale (float32, area-averaged) so the longer side is ``box`` pixels, keeping the aspect ratio."""
    h, w = digit.shape
    scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(digit.astype(np.float32), (nw, nh), interpolation=interpolation)


def center_of_mass(field: np.ndarray) -> tuple[float, float]:
    """(row, column) centre of mass of a non-negative image; the geometric centre when it is empty."""
    total = float(field.sum())
    if total <= 0:
        return (field.shape[0] - 1) / 2, (field.shape[1] - 1) / 2
    ys, xs = np.indices(field.shape)
    return float((ys * field).sum() / total), float((xs * field).sum() / total)


def center_mnist(digit: np.ndarray) -> np.ndarray:
    """Fit into a 20x20 box keeping the aspect ratio, then move the centre of mass to (14, 14) in 28x28."""
    small = fit_box(digit)
    nh, nw = small.shape
    field = np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    top, left = (MNIST_SIZE - nh) // 2, (MNIST_SIZE - nw) // 2
    field[top : top + nh, left : left + nw] = small
    if field.sum() > 0:
        cy, cx = center_of_mass(field)
        shift = np.float32([[1, 0, MNIST_CENTRE - cx], [0, 1, MNIST_CENTRE - cy]])
        field = cv2.warpAffine(field, shift, (MNIST_SIZE, MNIST_SIZE), flags=cv2.INTER_LINEAR, borderValue=0)
    peak = field.max()
    return field / peak if peak > 0 else field


def photo_mask(gray: np.ndarray) -> np.ndarray:
    """The digit's ink as a 0/255 mask on the shrunk photo; empty when no ink is found, or when the picture holds
    several separate figures of comparable size or of the same ink (``has_rival``) or a pattern the figure is part
    of (``in_pattern``): then it does not show one digit."""
    ink, beyond = darkness_and_page(shrink(gray))
    cleaned = remove_rules(binarize(ink), ink, beyond)
    components = label_components(cleaned)  # labelled once for all three
    digit = keep_digit(cleaned, components)
    if has_rival(cleaned, digit, components, ink) or in_pattern(cleaned, digit, components):
        return np.zeros_like(digit)
    return digit


def to_mnist(image: np.ndarray) -> np.ndarray:
    """Decoded image (gray or BGR uint8) -> float32 28x28 in [0, 1], white ink on black, centred as MNIST."""
    gray = to_gray(image)
    if gray.size == 0:
        return np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    mnist_style = is_mnist_style(gray)
    if not mnist_style and max(gray.shape) <= MNIST_STYLE_MAX_SIDE and ink_is_dark(gray):
        gray = small_inverted(gray)  # a small scan or drawing, black on white: MNIST's convention but inverted
        mnist_style = is_mnist_style(gray)
    if mnist_style:
        if gray.shape == (MNIST_SIZE, MNIST_SIZE):
            return gray.astype(np.float32) / 255.0
        return center_mnist(thicken_small(crop(np.where(gray > 32, gray, 0).astype(np.uint8))))
    digit = crop(photo_mask(gray))
    if not digit.any():
        return np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    return center_mnist(normalise_stroke(digit))
