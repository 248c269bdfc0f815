"""Photo of a handwritten digit -> a 28x28 image in the MNIST convention (white ink on black, centred).

MNIST was made by scaling each digit to fit a 20x20 box (keeping its aspect ratio) and centring its centre of
mass in a 28x28 field. A phone photo of ink on paper differs in every respect: polarity, uneven light, ruled
lines, specks, size and stroke width. Each step below undoes one of those differences; each is a pure function
so tests and training can use them one by one.
"""

from __future__ import annotations

import cv2
import numpy as np

MNIST_SIZE = 28
MNIST_BOX = 20
WORK_SIDE = 400  # photos are shrunk to about this before cleaning: plenty for one digit, cheap to process
# Mean stroke width of an MNIST digit relative to its 20-pixel box (measured on the training set, about 2.4 px).
STROKE_RATIO = 0.12


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 grayscale from a decoded gray or BGR image."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def is_mnist_style(gray: np.ndarray) -> bool:
    """True for images already in the MNIST convention: small, dark background, some bright ink."""
    if max(gray.shape) > 64:
        return False
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return float(np.median(border)) < 64 and int(gray.max()) > 128


def shrink(gray: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    """Shrink so the longer side is at most ``side``; small images are left alone."""
    h, w = gray.shape
    scale = side / max(h, w)
    if scale >= 1:
        return gray
    return cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def ink_bright(gray: np.ndarray) -> np.ndarray:
    """Return the image with ink bright on a dark background, inverting dark-ink-on-light-paper photos.

    Ink is the minority of pixels, so the background is whatever the border and the median agree on.
    """
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = 0.5 * float(np.median(border)) + 0.5 * float(np.median(gray))
    return 255 - gray if background > 127 else gray


def flatten_light(ink: np.ndarray) -> np.ndarray:
    """Remove slowly varying light (shadows, vignetting) with a white top-hat: ink minus the local background."""
    side = min(ink.shape)
    k = max(15, (side // 5) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    flat = cv2.morphologyEx(ink, cv2.MORPH_TOPHAT, kernel)
    return cv2.normalize(flat, None, 0, 255, cv2.NORM_MINMAX)


def binarize(flat: np.ndarray) -> np.ndarray:
    """Otsu threshold after a light blur (paper grain); returns a 0/255 mask of ink."""
    blurred = cv2.GaussianBlur(flat, (3, 3), 0)
    _, mask = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return mask


def remove_rules(mask: np.ndarray) -> np.ndarray:
    """Erase ruled lines: thin horizontal (or vertical margin) structures spanning most of the image."""
    h, w = mask.shape
    cleaned = mask.copy()
    for length, shape, span in ((w // 3, (w // 3, 1), w), (h // 3, (1, h // 3), h)):
        if length < 10:
            continue
        lines = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, shape))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
        horizontal = shape[1] == 1
        for i in range(1, count):
            x, y, bw, bh, _ = stats[i]
            extent, thickness = (bw, bh) if horizontal else (bh, bw)
            if extent >= 0.6 * span and thickness <= max(3, 0.04 * (h if horizontal else w)):
                cleaned[labels == i] = 0
    return cleaned


def keep_digit(mask: np.ndarray) -> np.ndarray:
    """Keep the digit's strokes: the largest component and the sizeable ones near it; drop specks and edges."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return mask
    h, w = mask.shape
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(areas)[::-1] + 1
    main = order[0]
    # A blob that touches the border and is not the only candidate is usually the table or a shadow.
    for idx in order:
        x, y, bw, bh, _ = stats[idx]
        if x > 0 and y > 0 and x + bw < w and y + bh < h:
            main = idx
            break
    mx, my, mw, mh, marea = stats[main]
    margin_x, margin_y = 0.6 * mw + 2, 0.6 * mh + 2
    keep = np.zeros(count, dtype=bool)
    keep[main] = True
    for idx in range(1, count):
        x, y, bw, bh, area = stats[idx]
        near = x < mx + mw + margin_x and x + bw > mx - margin_x and y < my + mh + margin_y and y + bh > my - margin_y
        if near and area >= max(4, 0.08 * marea):
            keep[idx] = True
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width in pixels: twice the distance-transform value along the strokes' ridges."""
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    ridge = (dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8))) & (mask > 0)
    values = dist[ridge]
    return float(2.0 * np.median(values)) if values.size else 0.0


def crop(mask: np.ndarray) -> np.ndarray:
    """The bounding box of the ink."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return mask
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def normalise_stroke(digit: np.ndarray) -> np.ndarray:
    """Thicken or thin the strokes to MNIST's width relative to the digit's size (thin pens vanish otherwise)."""
    side = max(digit.shape)
    target = STROKE_RATIO * side
    width = stroke_width(digit)
    if width <= 0:
        return digit
    delta = int(round((target - width) / 2))
    if delta == 0:
        return digit
    pad = max(delta, 0) + 1
    padded = cv2.copyMakeBorder(digit, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(delta) + 1, 2 * abs(delta) + 1))
    changed = cv2.dilate(padded, kernel) if delta > 0 else cv2.erode(padded, kernel)
    return crop(changed) if changed.any() else crop(padded)


def center_mnist(digit: np.ndarray) -> np.ndarray:
    """Fit into a 20x20 box keeping the aspect ratio, then centre the centre of mass in 28x28 (as MNIST)."""
    h, w = digit.shape
    scale = MNIST_BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = cv2.resize(digit, (nw, nh), interpolation=cv2.INTER_AREA).astype(np.float32)
    field = np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    top, left = (MNIST_SIZE - nh) // 2, (MNIST_SIZE - nw) // 2
    field[top : top + nh, left : left + nw] = small
    total = field.sum()
    if total > 0:
        ys, xs = np.indices(field.shape)
        cy, cx = (ys * field).sum() / total, (xs * field).sum() / total
        shift = np.float32([[1, 0, MNIST_SIZE / 2 - 0.5 - cx], [0, 1, MNIST_SIZE / 2 - 0.5 - cy]])
        field = cv2.warpAffine(field, shift, (MNIST_SIZE, MNIST_SIZE), flags=cv2.INTER_LINEAR, borderValue=0)
    peak = field.max()
    return field / peak if peak > 0 else field


def to_mnist(image: np.ndarray) -> np.ndarray:
    """Decoded image (gray or BGR uint8) -> float32 28x28 in [0, 1], white ink on black, centred as MNIST."""
    gray = to_gray(image)
    if is_mnist_style(gray):
        if gray.shape == (MNIST_SIZE, MNIST_SIZE):
            return gray.astype(np.float32) / 255.0
        return center_mnist(crop(np.where(gray > 32, gray, 0).astype(np.uint8)))
    ink = ink_bright(shrink(gray))
    mask = keep_digit(remove_rules(binarize(flatten_light(ink))))
    digit = crop(mask)
    if not digit.any():
        return np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    return center_mnist(normalise_stroke(digit))
