"""From a photo to an ink mask: grayscale, polarity, the paper's uneven light, the table beyond the page, and a
threshold with hysteresis. Pure functions on uint8 arrays."""

from __future__ import annotations

import cv2
import numpy as np

WORK_SIDE = 320  # photos are shrunk to about this before cleaning: plenty for one digit, cheap to process
# Below this darkness (fraction of the paper's brightness) nothing on the page counts as ink: blank paper stays blank.
MIN_INK_CONTRAST = 0.12
# A ground darker than this (grey level of the median pixel) with few bright pixels holds light ink (MNIST, chalk).
DARK_GROUND = 90
# Hysteresis: a stroke grows from its dark core into neighbours at least this fraction as dark.
WEAK_INK = 0.7
# The edge between table and paper is sharp (30-70 grey levels per pixel of the coarse copy on the test photos),
# a shadow's rim is soft (1-5): a dark region at the border with a sharper rim than this is the table.
TABLE_EDGE_SHARPNESS = 15.0
# ... and runs along at least this fraction of one side of the image.
TABLE_MIN_CONTACT = 0.3


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 grayscale from a decoded gray or BGR image."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def border_pixels(gray: np.ndarray) -> np.ndarray:
    return np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])


def border_median(gray: np.ndarray) -> float:
    """Median of the border pixels. Not ``np.median``: its generic path costs ~8 us per call on the hot path of
    every small digit request; sorting the ~100 border values costs ~1.5 us and gives the same number."""
    values = np.sort(border_pixels(gray), axis=None)
    n = values.size
    return (int(values[(n - 1) // 2]) + int(values[n // 2])) / 2


def shrink(gray: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    """Shrink so the longer side is at most ``side``; small images are left alone."""
    h, w = gray.shape
    scale = side / max(h, w)
    if scale >= 1:
        return gray
    return cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _coarse(gray: np.ndarray) -> tuple[np.ndarray, int]:
    """A copy about 80 pixels on its short side and the kernel size (a quarter of that side) used on it.

    The kernel is wider than any pen stroke but narrower than the page, its shadows and the table around it.
    """
    h, w = gray.shape
    factor = max(1, min(h, w) // 80)
    small = cv2.resize(gray, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    return small, max(3, (min(small.shape) // 4) | 1)


def ink_is_dark(gray: np.ndarray) -> bool:
    """True for dark ink on light paper (the usual photo), False for light ink on a dark ground (MNIST, chalk).

    Ink covers a small part of the picture: on a light page most pixels are brighter than halfway between
    the darkest and the brightest, on a dark ground few are, and the typical pixel is dark in absolute terms.
    Both must hold to call the ink light: a page mostly in shadow has few bright pixels too, but its
    typical pixel is still grey. (Comparing top-hats failed on loops of ink that enclose paper.)
    """
    small, _ = _coarse(gray)
    low, median, high = np.percentile(small, (1, 50, 99))
    if high - low < 1:
        # A thin line drawn on a canvas covers less than 1 % of it: then the extremes tell its colour.
        low, high = float(small.min()), float(small.max())
        if high - low < 1:
            return True
    few_bright = np.mean(small > (low + high) / 2) <= 0.25
    return not (few_bright and median < DARK_GROUND)


def paper_level(gray: np.ndarray) -> np.ndarray:
    """Local brightness of the paper under dark ink, estimated on a coarse copy and upsampled.

    A closing wider than any pen stroke lifts the ink to the paper around it (and, unlike a plain max filter,
    does not spill bright paper into the dark side of a shadow); a median then smooths what is left while
    keeping the edge of a shadow, so the estimate follows the scene's light but not the ink.
    """
    h, w = gray.shape
    small, k = _coarse(gray)
    # Beyond the image's edge lies more of the paper along that edge: the edge's own brightest pixels nearby
    # (a 1-D max filter along it) are repeated outwards. A bold stroke cut by a tight crop is then lifted
    # from that side too, while a page darker towards its edges (vignetting) is still followed.
    pad = k // 2
    along = np.ones((1, k), np.uint8)
    edge = small.copy()
    edge[[0, -1], :] = cv2.dilate(small[[0, -1], :], along)
    edge[:, [0, -1]] = cv2.dilate(small[:, [0, -1]].T.copy(), along).T
    padded = cv2.copyMakeBorder(edge, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    padded[pad : pad + small.shape[0], pad : pad + small.shape[1]] = small
    lifted = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    level = cv2.medianBlur(lifted, k)[pad : pad + small.shape[0], pad : pad + small.shape[1]]
    level = cv2.resize(level, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.maximum(level, gray)


def _is_strip(component: np.ndarray, area: int) -> bool:
    """True for a region lying along the image's sides, as the table beyond the page does.

    It runs along a good part of at least one side, and nearly all of it is reached by walking straight in
    from a side. A digit cropped so tightly that it touches the edge fails one of the two (a 2 whose base
    lies on the edge: the rest of the 2 is not reached from the edge).
    """
    sides = (component, component[::-1], component.T, component.T[::-1])  # from top, bottom, left, right
    contact = max(float(side[0].mean()) for side in sides)
    if contact < TABLE_MIN_CONTACT:
        return False
    reached = sum(int(np.cumprod(side, axis=0).sum()) for side in sides)
    return reached >= 0.7 * area


def beyond_page(gray: np.ndarray) -> np.ndarray:
    """Boolean mask of what lies beyond the page (the table, a dark background) in a dark-ink-on-light image.

    The table is far darker than the paper (below half its brightness), reaches the image's edge, and meets
    the paper along a sharp edge; a shadow on the paper is as dark at worst but has a soft rim, and the digit
    does not reach the edge. Without this mask the table's rim would be taken for ink: the paper-level
    estimate cannot follow a narrow strip of table.
    """
    h, w = gray.shape
    small, _ = _coarse(gray)
    smooth = cv2.medianBlur(small, 5) if min(small.shape) >= 5 else small
    dark = (smooth < 0.5 * float(np.percentile(smooth, 95))).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    if count <= 1:
        return np.zeros((h, w), dtype=bool)
    f = smooth.astype(np.float32)
    sharpness = np.hypot(cv2.Sobel(f, cv2.CV_32F, 1, 0), cv2.Sobel(f, cv2.CV_32F, 0, 1)) / 8  # grey levels per pixel
    sh, sw = small.shape
    table = np.zeros(count, dtype=bool)
    for i in range(1, count):
        component = (labels == i).astype(np.uint8)
        if not _is_strip(component, stats[i, cv2.CC_STAT_AREA]):
            continue
        rim = (cv2.dilate(component, np.ones((3, 3), np.uint8)) > 0) & (component == 0)
        # The table's rim is sharp all round; a shadow merged with dark ink has a soft rim in places.
        table[i] = bool(rim.any()) and float(np.percentile(sharpness[rim], 25)) >= TABLE_EDGE_SHARPNESS
    if not table.any():
        return np.zeros((h, w), dtype=bool)
    mask = np.where(table[labels], 255, 0).astype(np.uint8)
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))  # cover the page's blurred rim
    return cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST) > 0


def darkness(gray: np.ndarray) -> np.ndarray:
    """Ink map: uint8, 255 * (1 - pixel / local paper level); polarity, uneven light and the table undone.

    Dividing by the paper's local level (rather than subtracting it) also undoes shadows, which dim ink and
    paper by the same factor.
    """
    return darkness_and_page(gray)[0]


def darkness_and_page(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``darkness`` and the mask of what lies beyond the page (``beyond_page``), which it sets to no ink: a rule
    printed across the page ends where the page does."""
    dark_on_light = gray if ink_is_dark(gray) else 255 - gray
    paper = paper_level(dark_on_light)
    # On a nearly black page the ratio would turn sensor noise into "ink": the level is floored.
    ink = cv2.divide(cv2.subtract(paper, dark_on_light), np.maximum(paper, 32), scale=255)
    beyond = beyond_page(dark_on_light)
    ink[beyond] = 0
    return ink, beyond


def binarize(ink: np.ndarray) -> np.ndarray:
    """Ink mask (0/255) from the ink map: Otsu with hysteresis; a page without contrast gives no ink.

    Otsu alone cuts thin, blurred strokes into pieces and, on a page lit unevenly, picks up the faint
    leftovers of shadows. So pixels above Otsu's level (and at least half as dark as the darkest ink) seed
    the strokes, and each stroke then grows into its fainter neighbours down to ``WEAK_INK`` of that level
(printed rules, fainter than ink, mostly stay out).
    """
    blurred = cv2.GaussianBlur(ink, (3, 3), 0)
    if blurred.size == 0:
        return np.zeros_like(ink)
    peak = float(np.percentile(blurred, 99.8))
    if peak < 255 * MIN_INK_CONTRAST:
        return np.zeros_like(ink)
    otsu, _ = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    high = max(otsu, 0.5 * peak, 255 * MIN_INK_CONTRAST)
    strong = blurred > high
    weak = (blurred > WEAK_INK * high).astype(np.uint8)
    count, labels = cv2.connectedComponents(weak, connectivity=8)
    seeded = np.zeros(count, dtype=bool)
    seeded[np.unique(labels[strong])] = True
    seeded[0] = False
    return np.where(seeded[labels], 255, 0).astype(np.uint8)
