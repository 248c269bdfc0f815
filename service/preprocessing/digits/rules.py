"""Ruled and squared paper: find the printed lines that run across the page and erase them, keeping the digit's
own strokes (which end inside the page, and keep their width where they cross or follow a line)."""

from __future__ import annotations

import cv2
import numpy as np

from service.preprocessing.digits.ink import MIN_INK_CONTRAST

# Rule candidates: straight thin lines at least this fraction of the image's short side long ...
RULE_MIN_SPAN = 0.4
# ... that, refitted, have thin ink over at least this fraction of the image's width (or height); a digit's
# straight stroke (the tallest digits here are 55 % of the short side) does not.
RULE_MIN_SUPPORT = 0.45
# ... and that run from one side of the picture to the other: both ends of their thin ink within this fraction of
# the picture's width (or height) from its edges, or from the page's edge where the table beyond the page shows.
# A digit's stroke ends inside the page, however long it is.
RULE_EDGE_REACH = 0.06
# The stretch of a line's course between its end and the picture's edge counts as beyond the page when at least
# this share of it is. Measured on renders of one seed (5,000 digits, 5,000 non-digits): 11 more digits are read
# right and accepted, 2 more non-digits are let through; no real-digits or test-data input changes.
BEYOND_PAGE_SHARE = 0.9


def find_rules(mask: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Long straight thin lines (ruled or squared paper, margin lines), at any small tilt.

    Returns segments (x1, y1, x2, y2). Only thin structures are searched (what an opening with a 7x7 square
    removes): pen strokes are thicker, and the search stays cheap. Digit strokes are also shorter than a
    rule must be.
    """
    h, w = mask.shape
    if min(h, w) < 16 or not mask.any():
        return []
    thin = cv2.subtract(mask, cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((7, 7), np.uint8)))
    short = min(h, w)
    edges = cv2.HoughLinesP(
        thin, 1, np.pi / 180, threshold=max(10, int(0.2 * short)), minLineLength=int(RULE_MIN_SPAN * short),
        maxLineGap=max(3, int(0.06 * short)),
    )
    if edges is None:
        return []
    return [tuple(segment) for segment in np.asarray(edges).reshape(-1, 4).astype(float)[:80]]


def _fit_thin_line(
    m: np.ndarray, xs: np.ndarray, slope: float, icept: float
) -> tuple[float, float, float, int, int, int] | None:
    """Refit y = slope * x + icept to the thin ink within 5 rows of it.

    Returns (slope, icept, thickness, support, first, last): only columns where the window holds a short run of
    ink with paper at both ends count (support); first and last are the outermost such columns.
    """
    h = m.shape[0]
    guess = np.rint(icept + xs * slope).astype(int)
    rows = np.clip(guess[:, None] + np.arange(-5, 6)[None, :], 0, h - 1)
    hits = m[rows, xs[:, None]] > 0
    counts = hits.sum(axis=1)
    thin = (counts > 0) & (counts <= 7) & ~hits[:, 0] & ~hits[:, -1]
    if thin.sum() < 8:
        return None
    centres = (rows * hits).sum(axis=1)[thin] / counts[thin]
    fit_slope, fit_icept = np.polyfit(xs[thin], centres, 1)
    supported = xs[thin]
    return (float(fit_slope), float(fit_icept), float(np.median(counts[thin])), int(thin.sum()),
            int(supported[0]), int(supported[-1]))


def _erase_rule(mask: np.ndarray, segment: tuple[float, float, float, float], guide: np.ndarray,
                beyond: np.ndarray | None = None) -> None:
    """Erase one rule in place from ``mask`` (keeping the ink that touches or crosses it) and from ``guide``.

    The Hough segment is only roughly placed (one-degree steps), so the line is first refitted to the pixels
    near it in ``guide`` (the faint-ink mask, where rules are whole); a fit supported by less than
    ``RULE_MIN_SUPPORT`` of the image's width is no rule (a digit's straight stroke) and is left alone, and so is
    one that ends inside the page (``beyond``: what lies beyond the page, when known).
    Then a band as thick as the rule is cleared, except where ink continues just above or below the band:
    a stroke crossing the rule keeps its pixels, and a stroke lying along the rule keeps its full width (at
    the price of a stub of rule as long as the stroke, which only thickens its edge).
    """
    x1, y1, x2, y2 = segment
    horizontal = abs(x2 - x1) >= abs(y2 - y1)
    m = mask if horizontal else mask.T  # a view: erasing in m erases in mask
    g = guide if horizontal else guide.T
    b = None if beyond is None else (beyond if horizontal else beyond.T)
    if not horizontal:
        x1, y1, x2, y2 = y1, x1, y2, x2
    h, w = m.shape
    slope = (y2 - y1) / (x2 - x1) if x2 != x1 else 0.0
    lo, hi = int(max(0, min(x1, x2) - 8)), int(min(w, max(x1, x2) + 9))
    fit = _fit_thin_line(g, np.arange(lo, hi), slope, y1 - x1 * slope)  # refine on the segment itself
    if fit is None:
        return
    fit = _fit_thin_line(g, np.arange(w), *fit[:2])  # then follow it across the whole image
    if fit is None or fit[3] < max(8, RULE_MIN_SUPPORT * w):
        return
    fit_slope, fit_icept, thickness, _, first, last = fit
    reach = RULE_EDGE_REACH * w

    def off_the_page(xs: np.ndarray) -> bool:
        """Does the line's course over these columns lie beyond the page?"""
        rows = np.rint(fit_icept + fit_slope * xs).astype(int)
        on = (rows >= 0) & (rows < h)
        return b is not None and bool(on.any()) and float(b[rows[on], xs[on]].mean()) >= BEYOND_PAGE_SHARE

    if first > reach and not off_the_page(np.arange(0, int(first - reach))):
        return  # it ends inside the page: a digit's own straight stroke, not a line printed across it
    if last < w - 1 - reach and not off_the_page(np.arange(int(last + reach) + 1, w)):
        return
    xs = np.arange(w)
    centre = np.rint(fit_icept + fit_slope * xs).astype(int)
    inside = (centre >= 0) & (centre < h)
    xs, centre = xs[inside], centre[inside]
    half = int(np.ceil(thickness / 2))
    above = np.clip(centre - half - 2, 0, h - 1)
    below = np.clip(centre + half + 2, 0, h - 1)
    touching = (m[above, xs] > 0) | (m[below, xs] > 0)
    rows = centre[None, :] + np.arange(-half, half + 1)[:, None]
    cols = np.broadcast_to(xs, rows.shape)
    inside = (rows >= 0) & (rows < h)
    m[rows[inside & ~touching], cols[inside & ~touching]] = 0
    g[rows[inside], cols[inside]] = 0  # the guide loses the whole rule: it is not found a second time


def _still_there(mask: np.ndarray, segment: tuple[float, float, float, float]) -> bool:
    """True when most points along the segment are still ink (Hough reports one rule several times)."""
    x1, y1, x2, y2 = segment
    t = np.linspace(0.0, 1.0, 32)
    xs = np.clip(np.rint(x1 + t * (x2 - x1)).astype(int), 0, mask.shape[1] - 1)
    ys = np.clip(np.rint(y1 + t * (y2 - y1)).astype(int), 0, mask.shape[0] - 1)
    top, left = max(int(ys.min()) - 2, 0), max(int(xs.min()) - 2, 0)
    near = cv2.dilate(mask[top : ys.max() + 3, left : xs.max() + 3], np.ones((5, 5), np.uint8))
    return bool((near[ys - top, xs - left] > 0).mean() > 0.5)


def faint_ink(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mask of everything darker than the paper, however faintly: rules come out whole here, not just the
    pieces that touch the digit, so they can be found and followed."""
    level = max(255 * 0.6 * MIN_INK_CONTRAST, 0.3 * float(np.percentile(ink, 99.8)))
    return np.where((cv2.GaussianBlur(ink, (3, 3), 0) > level) | (mask > 0), 255, 0).astype(np.uint8)


def remove_rules(mask: np.ndarray, ink: np.ndarray | None = None, beyond: np.ndarray | None = None) -> np.ndarray:
    """Erase ruled lines, squared-paper grids and margin lines; strokes that cross them survive.

    ``ink`` (the ink map the mask came from) lets rules be found in full even when only their pieces
    touching the digit made it into the mask; ``beyond`` (what lies beyond the page, ``beyond_page``) lets a
    rule end at the page's edge inside the picture, where the table begins.
    """
    guide = mask if ink is None else faint_ink(ink, mask)
    cleaned = mask.copy()
    for segment in find_rules(guide):
        if _still_there(guide, segment):
            _erase_rule(cleaned, segment, guide, beyond)
    return cleaned
